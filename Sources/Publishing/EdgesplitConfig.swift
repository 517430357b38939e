import Affinity

/// The whole edgesplit configuration, validated: what `edgesplit serve` is built from.
///
/// Every value that came from the file keeps its `position`, so later checks (certificate
/// loading, DNS, `test-rule`) can still point the operator at the line to fix.
public struct EdgesplitConfig: Hashable, Sendable {
    /// Names the pinned BPF maps and the control socket; `[a-z0-9][a-z0-9_-]{0,31}`.
    public var instance: String
    /// Event loops; nil means one per CPU.
    public var workers: Int?
    public var affinity: AffinitySettings
    /// Nil means no access log.
    public var accessLog: AccessLogSettings?
    public var listeners: [Listener]
    public var farms: [Farm]
    /// Evaluated in order; the first match wins.
    public var rules: [PublishingRule]
    public var http: HTTPSettings
    /// HTTP/2 towards clients on TLS listeners.
    public var http2: HTTP2Options = HTTP2Options()
    public var timeouts: GlobalTimeouts
    /// Operations endpoints (Prometheus metrics).
    public var admin: AdminSettings = AdminSettings()
    /// Process-wide TLS settings (session tickets).
    public var tls: TLSSettings = TLSSettings()
    /// The file name the configuration was loaded from, as given to the loader.
    public var file: String
    /// Per-source limits (`limits:`); nil = none, except the rules' own.
    public var limits: SourceLimits?

    public static let defaultInstance = "edgesplit"

    public init(
        instance: String = EdgesplitConfig.defaultInstance, workers: Int? = nil,
        affinity: AffinitySettings = AffinitySettings(), accessLog: AccessLogSettings? = nil,
        listeners: [Listener], farms: [Farm], rules: [PublishingRule],
        http: HTTPSettings = HTTPSettings(), timeouts: GlobalTimeouts = GlobalTimeouts(), file: String
    ) {
        self.instance = instance
        self.workers = workers
        self.affinity = affinity
        self.accessLog = accessLog
        self.listeners = listeners
        self.farms = farms
        self.rules = rules
        self.http = http
        self.timeouts = timeouts
        self.file = file
    }

    public func listenerIndex(named name: String) -> Int? { listeners.firstIndex { $0.name == name } }
    public func farmIndex(named name: String) -> Int? { farms.firstIndex { $0.name == name } }
}

/// Operations endpoints.
public struct AdminSettings: Hashable, Sendable {
    /// Where `GET /metrics` answers in the Prometheus text format; nil = no metrics endpoint.
    public var metrics: AdminEndpoint?
    /// The operator dashboard on the same listener (`GET /dashboard`); nil = none.
    public var dashboard: DashboardSettings?

    public init(metrics: AdminEndpoint? = nil, dashboard: DashboardSettings? = nil) {
        self.metrics = metrics
        self.dashboard = dashboard
    }
}

/// `admin.dashboard`: live pages of `edgesplit stats` on the `admin.metrics` listener.
///
/// Off a loopback address the dashboard must ask for credentials (the loader refuses it
/// otherwise), and changes (drain, undrain) are offered only to an authenticated operator.
public struct DashboardSettings: Hashable, Sendable {
    /// A file holding the bearer token (one line; surrounding whitespace is not part of it).
    public var tokenFile: String?
    public var basicAuth: BasicAuthSettings?
    /// Drain and undrain buttons (needs `token_file` or `basic_auth`).
    public var allowChanges: Bool
    public var position: SourcePosition

    public init(tokenFile: String? = nil, basicAuth: BasicAuthSettings? = nil, allowChanges: Bool = false, position: SourcePosition) {
        self.tokenFile = tokenFile
        self.basicAuth = basicAuth
        self.allowChanges = allowChanges
        self.position = position
    }

    /// Whether a request has to bring a token or a user and password.
    public var requiresCredentials: Bool { tokenFile != nil || basicAuth != nil }
}

/// HTTP basic authentication (RFC 7617): a user name and the file holding its password.
public struct BasicAuthSettings: Hashable, Sendable {
    public var user: String
    public var passwordFile: String

    public init(user: String, passwordFile: String) {
        self.user = user
        self.passwordFile = passwordFile
    }
}

/// TLS settings shared by every TLS listener of the process.
public struct TLSSettings: Hashable, Sendable {
    public var tickets: SessionTicketSettings

    public init(tickets: SessionTicketSettings = SessionTicketSettings()) {
        self.tickets = tickets
    }
}

/// Session tickets (RFC 5077, RFC 8446 §4.6.1): the keys that seal them live only in
/// memory, are the same for every worker and certificate, and are replaced every `rotate`;
/// a ticket sealed with the previous key is still accepted for one more interval, so a
/// ticket resumes for between one and two intervals and no longer.
public struct SessionTicketSettings: Hashable, Sendable {
    public var rotate: Duration

    public static let defaultRotate: Duration = .seconds(12 * 3600)

    public init(rotate: Duration = SessionTicketSettings.defaultRotate) {
        self.rotate = rotate
    }
}

/// An address literal and port for an operations endpoint (loopback unless written otherwise).
public struct AdminEndpoint: Hashable, Sendable {
    public var address: String
    public var port: Int
    public var position: SourcePosition

    public init(address: String, port: Int, position: SourcePosition) {
        self.address = address
        self.port = port
        self.position = position
    }

    /// 127.0.0.0/8, ::1 or an IPv4-mapped loopback address: reachable from this host only.
    public var isLoopback: Bool {
        guard let client = ClientAddress(address) else { return false }
        let bytes = client.bytes
        if bytes.count == 4 { return bytes[0] == 127 }
        if bytes == [UInt8](repeating: 0, count: 15) + [1] { return true }
        return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
    }
}

/// How the kernel groups clients onto workers (see `Affinity`).
public struct AffinitySettings: Hashable, Sendable {
    /// Clients sharing this many leading IPv4 bits go to the same worker (32 = per address).
    public var ipv4Prefix: Int
    /// Clients sharing this many leading IPv6 bits go to the same worker (128 = per address).
    public var ipv6Prefix: Int
    /// Seed of the steering hash; edge hosts sharing a seed agree on placements.
    public var seed: UInt32
    /// `balance_factor`: bounded loads in the kernel program. A worker at the factor times
    /// the mean active connections passes new clients on to the next one under it; nil is
    /// pure affinity (a NAT pool's crowd all lands on one worker).
    public var balance: BoundedLoad?

    public init(ipv4Prefix: Int = 32, ipv6Prefix: Int = 128, seed: UInt32 = 0, balance: BoundedLoad? = nil) {
        self.ipv4Prefix = ipv4Prefix
        self.ipv6Prefix = ipv6Prefix
        self.seed = seed
        self.balance = balance
    }
}

public enum AccessLogFormat: String, Hashable, Sendable, CaseIterable {
    /// W3C extended log format, field names as TMG/ISA used them.
    case w3c
    /// One JSON object per line.
    case json
}

public struct AccessLogSettings: Hashable, Sendable {
    /// A file path, or "-" for standard output.
    public var path: String
    public var format: AccessLogFormat
    public var position: SourcePosition

    public init(path: String, format: AccessLogFormat = .w3c, position: SourcePosition) {
        self.path = path
        self.format = format
        self.position = position
    }

    public var isStandardOutput: Bool { path == "-" }
}

/// Global HTTP limits (TMG's HTTP filter lengths are global too).
public struct HTTPSettings: Hashable, Sendable {
    public var maxRequestLine: Int
    /// Lync sends large `Authorization`/`X-MS-WebTicket` headers: keep this ample.
    public var maxHeaderBytes: Int

    public init(maxRequestLine: Int = 16 * 1024, maxHeaderBytes: Int = 64 * 1024) {
        self.maxRequestLine = maxRequestLine
        self.maxHeaderBytes = maxHeaderBytes
    }
}

public struct GlobalTimeouts: Hashable, Sendable {
    public var tlsHandshake: Duration
    /// Time to receive a whole request head (cuts slowloris).
    public var requestHead: Duration
    /// How long in-flight requests may run after SIGTERM.
    public var shutdown: Duration
    /// After a reload, how long the old generation's connections may run (long polls are
    /// closed then): the drain timeout.
    public var drain: Duration

    public init(
        tlsHandshake: Duration = .seconds(10), requestHead: Duration = .seconds(30), shutdown: Duration = .seconds(30),
        drain: Duration = .seconds(60)
    ) {
        self.tlsHandshake = tlsHandshake
        self.requestHead = requestHead
        self.shutdown = shutdown
        self.drain = drain
    }
}
