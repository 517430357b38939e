import Affinity

/// How a farm keeps one client on one member.
public enum Persistence: String, Hashable, Sendable, CaseIterable {
    /// Hash of the client's source address (masked like the worker affinity).
    case source
    /// A cookie that names the member (Lync's HLB guidance uses MS-WSMAN).
    case cookie
    /// Any member, per request.
    case none
}

/// The internal servers a rule forwards to (TMG's "server farm").
public struct Farm: Hashable, Sendable {
    public var name: String
    public var members: [FarmMember]
    /// Nil means plain HTTP to the members.
    public var tls: FarmTLS?
    public var persistence: Persistence
    /// Only used with `persistence == .cookie`.
    public var cookieName: String
    /// Keys the persistence cookie's MAC. The configuration reader requires it with
    /// `persistence: cookie`: a key derived from public facts (farm name, seed) would let anyone
    /// who knows a member's `host:port` compute its token and choose the member. Nil only for
    /// farms built in code, which then fall back to that derived, guessable key.
    public var cookieKey: String?
    /// Active health checks; nil = passive only (failed connections hold a member out briefly).
    public var health: HealthCheck?
    public var position: SourcePosition

    public static let defaultCookieName = "MS-WSMAN"
    /// The shortest `cookie_key` accepted: 16 bytes, the size of SipHash's key.
    public static let minimumCookieKeyLength = 16

    public init(
        name: String, members: [FarmMember], tls: FarmTLS? = nil, persistence: Persistence = .source,
        cookieName: String = Farm.defaultCookieName, cookieKey: String? = nil, health: HealthCheck? = nil,
        position: SourcePosition
    ) {
        self.name = name
        self.members = members
        self.tls = tls
        self.persistence = persistence
        self.cookieName = cookieName
        self.cookieKey = cookieKey
        self.health = health
        self.position = position
    }
}

/// One `host:port` of a farm. The host is resolved elsewhere.
public struct FarmMember: Hashable, Sendable {
    /// A DNS name or an address literal, without brackets.
    public var host: String
    public var port: Int
    /// The member as written in the file.
    public var text: String
    public var position: SourcePosition

    public init(host: String, port: Int, text: String, position: SourcePosition) {
        self.host = host
        self.port = port
        self.text = text
        self.position = position
    }

    /// True when `host` is an IPv4 or IPv6 literal and needs no DNS.
    public var isLiteralAddress: Bool { !host.hasPrefix("[") && ClientAddress(host) != nil }
}

/// TLS toward a farm's members (Lync requires re-encryption to 4443).
public struct FarmTLS: Hashable, Sendable {
    /// PEM file of the CA(s) that issued the members' certificates; nil = system trust.
    public var ca: String?
    /// SNI and the name verified in the member certificate; nil = the member's host.
    public var serverName: String?
    /// False disables certificate verification (a warning in `check`).
    public var verify: Bool
    public var position: SourcePosition

    public init(ca: String? = nil, serverName: String? = nil, verify: Bool = true, position: SourcePosition) {
        self.ca = ca
        self.serverName = serverName
        self.verify = verify
        self.position = position
    }
}
