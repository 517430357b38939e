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
    public var timeouts: GlobalTimeouts
    /// The file name the configuration was loaded from, as given to the loader.
    public var file: String

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

/// How the kernel groups clients onto workers (see `Affinity`).
public struct AffinitySettings: Hashable, Sendable {
    /// Clients sharing this many leading IPv4 bits go to the same worker (32 = per address).
    public var ipv4Prefix: Int
    /// Clients sharing this many leading IPv6 bits go to the same worker (128 = per address).
    public var ipv6Prefix: Int
    /// Seed of the steering hash; edge hosts sharing a seed agree on placements.
    public var seed: UInt32

    public init(ipv4Prefix: Int = 32, ipv6Prefix: Int = 128, seed: UInt32 = 0) {
        self.ipv4Prefix = ipv4Prefix
        self.ipv6Prefix = ipv6Prefix
        self.seed = seed
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

/// An address and port edgesplit accepts connections on; with `tls` it terminates TLS.
public struct Listener: Hashable, Sendable {
    public var name: String
    /// An IPv4 or IPv6 literal, without brackets. "::" listens dual stack.
    public var address: String
    public var port: Int
    public var tls: ListenerTLS?
    public var position: SourcePosition

    public init(name: String, address: String, port: Int, tls: ListenerTLS? = nil, position: SourcePosition) {
        self.name = name
        self.address = address
        self.port = port
        self.tls = tls
        self.position = position
    }

    /// True for "0.0.0.0" and "::" (any local address).
    public var isWildcard: Bool { address == "0.0.0.0" || address == "::" }
}

public enum TLSMinimumVersion: String, Hashable, Sendable, CaseIterable {
    case tls12 = "1.2"
    case tls13 = "1.3"
}

public struct ListenerTLS: Hashable, Sendable {
    /// Chosen by SNI among these; the first is the default for clients without SNI.
    public var certificates: [CertificateSource]
    public var minVersion: TLSMinimumVersion
    public var position: SourcePosition

    public init(certificates: [CertificateSource], minVersion: TLSMinimumVersion = .tls12, position: SourcePosition) {
        self.certificates = certificates
        self.minVersion = minVersion
        self.position = position
    }
}

/// Where a listener certificate and its key are read from (read elsewhere, not here).
public struct CertificateSource: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// PEM certificate chain and PEM private key.
        case pem(cert: String, key: String)
        /// PKCS#12 bundle, with an optional file holding its password.
        case pfx(path: String, passwordFile: String?)
    }

    public var kind: Kind
    public var position: SourcePosition

    public init(kind: Kind, position: SourcePosition) {
        self.kind = kind
        self.position = position
    }
}

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
    public var position: SourcePosition

    public static let defaultCookieName = "MS-WSMAN"

    public init(
        name: String, members: [FarmMember], tls: FarmTLS? = nil, persistence: Persistence = .source,
        cookieName: String = Farm.defaultCookieName, position: SourcePosition
    ) {
        self.name = name
        self.members = members
        self.tls = tls
        self.persistence = persistence
        self.cookieName = cookieName
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

public enum RuleAction: String, Hashable, Sendable, CaseIterable {
    case allow
    case deny
}

/// Per-rule timeouts toward the farm. The defaults are safe for Lync: 960 s lets mobile
/// push-notification long polls (900 s) finish, 1800 s matches the HLB idle guidance.
public struct RuleTimeouts: Hashable, Sendable {
    public var connect: Duration
    public var response: Duration
    public var idle: Duration

    public init(connect: Duration = .seconds(5), response: Duration = .seconds(960), idle: Duration = .seconds(1800)) {
        self.connect = connect
        self.response = response
        self.idle = idle
    }
}

/// A web publishing rule: which requests (listener, public name, path, source) go where.
public struct PublishingRule: Hashable, Sendable {
    public var name: String
    /// Listener names; nil means every listener.
    public var listeners: [String]?
    public var publicNames: [HostPattern]
    public var paths: [PathPattern]
    /// The farm name; nil only on deny rules.
    public var farm: String?
    public var action: RuleAction
    /// Send the client's Host header to the farm (Lync routes simple URLs by it).
    public var forwardOriginalHost: Bool
    /// Clients outside these get 403 from this rule.
    public var sourceNetworks: [SourceNetwork]
    public var timeouts: RuleTimeouts
    /// Request body limit in bytes; nil = unlimited.
    public var maxBody: UInt64?
    public var position: SourcePosition

    public init(
        name: String, listeners: [String]? = nil, publicNames: [HostPattern], paths: [PathPattern] = [.all],
        farm: String?, action: RuleAction = .allow, forwardOriginalHost: Bool = true,
        sourceNetworks: [SourceNetwork] = SourceNetwork.any, timeouts: RuleTimeouts = RuleTimeouts(),
        maxBody: UInt64? = nil, position: SourcePosition
    ) {
        self.name = name
        self.listeners = listeners
        self.publicNames = publicNames
        self.paths = paths
        self.farm = farm
        self.action = action
        self.forwardOriginalHost = forwardOriginalHost
        self.sourceNetworks = sourceNetworks
        self.timeouts = timeouts
        self.maxBody = maxBody
        self.position = position
    }
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

    public init(tlsHandshake: Duration = .seconds(10), requestHead: Duration = .seconds(30), shutdown: Duration = .seconds(30)) {
        self.tlsHandshake = tlsHandshake
        self.requestHead = requestHead
        self.shutdown = shutdown
    }
}
