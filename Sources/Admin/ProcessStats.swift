/// Everything a running edgesplit process counts, as the control socket's `stats` reply
/// carries it and as the `process` part of `stats --json` and of the dashboard feed.
///
/// One model for the three, so they cannot drift apart. Reading is lenient: a figure missing
/// from a reply of an older edgesplit, or from a saved file (`stats --merge` reads them),
/// reads as zero or empty instead of refusing the whole document.
public struct ProcessStats: Codable, Sendable, Equatable {
    public var instance: String
    /// SHA-256 of the configuration text being served; nil (`null`) from a process that does
    /// not know it.
    @Nullable public var configurationDigest: String?
    /// ISO 8601.
    public var startedAt: String
    public var uptimeSeconds: Double
    public var workers: [Worker]
    public var listeners: [Traffic]
    /// Per rule in configuration order, then `(no rule)`.
    public var rules: [Traffic]
    public var members: [Member]
    /// `kernel` (the splice program forwards L4 routes) or `userspace`.
    public var l4Splice: String
    public var l4SplicedBytesDropped: UInt64
    public var l4Routes: [L4Route]
    public var certificates: [Certificate]
    public var tls: [ListenerTLS]
    /// The last few 5xx answers, newest first.
    public var recentServerErrors: [ServerError]
    public var sessionTickets: SessionTickets

    enum CodingKeys: String, CodingKey {
        case instance, workers, listeners, rules, members, certificates, tls
        case configurationDigest = "config_digest", startedAt = "started_at", uptimeSeconds = "uptime_seconds"
        case l4Splice = "l4_splice", l4SplicedBytesDropped = "l4_spliced_bytes_dropped", l4Routes = "l4_routes"
        case recentServerErrors = "recent_5xx", sessionTickets = "session_tickets"
    }

    public init(
        instance: String, configurationDigest: String?, startedAt: String, uptimeSeconds: Double, workers: [Worker],
        listeners: [Traffic], rules: [Traffic], members: [Member], l4Splice: String, l4SplicedBytesDropped: UInt64,
        l4Routes: [L4Route], certificates: [Certificate], tls: [ListenerTLS], recentServerErrors: [ServerError],
        sessionTickets: SessionTickets
    ) {
        (self.instance, self.startedAt, self.uptimeSeconds) = (instance, startedAt, uptimeSeconds)
        self.configurationDigest = configurationDigest
        (self.workers, self.listeners, self.rules, self.members) = (workers, listeners, rules, members)
        (self.l4Splice, self.l4SplicedBytesDropped, self.l4Routes) = (l4Splice, l4SplicedBytesDropped, l4Routes)
        (self.certificates, self.tls, self.recentServerErrors, self.sessionTickets) = (certificates, tls, recentServerErrors, sessionTickets)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        instance = try c.value(.instance, or: "")
        _configurationDigest = try c.decode(Nullable<String>.self, forKey: .configurationDigest)
        startedAt = try c.value(.startedAt, or: "")
        uptimeSeconds = try c.value(.uptimeSeconds, or: 0)
        workers = try c.value(.workers, or: [])
        listeners = try c.value(.listeners, or: [])
        rules = try c.value(.rules, or: [])
        members = try c.value(.members, or: [])
        l4Splice = try c.value(.l4Splice, or: "userspace")
        l4SplicedBytesDropped = try c.value(.l4SplicedBytesDropped, or: 0)
        l4Routes = try c.value(.l4Routes, or: [])
        certificates = try c.value(.certificates, or: [])
        tls = try c.value(.tls, or: [])
        recentServerErrors = try c.value(.recentServerErrors, or: [])
        sessionTickets = try c.value(.sessionTickets, or: SessionTickets(rotations: 0, currentKeyAgeSeconds: 0, rotateSeconds: 0))
    }
}
