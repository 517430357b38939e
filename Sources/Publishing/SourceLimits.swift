import Affinity

/// Per-source limits: TMG's flood mitigation, keyed like the kernel steering by the client
/// address masked to the affinity prefix, so one NAT pool (`/24`) or one privacy-address
/// host (`/64`) is one source, and every connection of a source is counted by the one
/// worker that owns it.
///
/// The defaults are TMG 2010's: 160 concurrent connections, 600 new connections and 600
/// HTTP requests per minute per address; TMG also capped half-open connections at 80,
/// which here limits TLS handshakes begun but not finished (a slow or stalled handshake
/// holds a connection and a TLS context without having sent a request yet).
public struct SourceLimits: Hashable, Sendable {
    public static let defaultConcurrentConnections = 160
    public static let defaultConnectionsPerMinute = 600
    public static let defaultRequestsPerMinute = 600
    public static let defaultHalfOpenHandshakes = 80
    /// HTTP/2 streams open at once per source: five per allowed connection, so multiplexing
    /// cannot multiply a source's share (160 connections × 100 streams) behind one limit.
    public static let defaultConcurrentStreams = 800
    /// Sources one worker remembers: a full table of 65 536 takes about 11 MiB (measured).
    public static let defaultTrackedSources = 65_536

    /// Connections open at once; nil = no limit.
    public var concurrentConnections: Int?
    /// New connections in a one-minute window; nil = no limit.
    public var connectionsPerMinute: Int?
    /// Requests in a one-minute window (rules with their own `limits` count apart); nil = no limit.
    public var requestsPerMinute: Int?
    /// TLS handshakes begun and not finished, at once; nil = no limit.
    public var halfOpenHandshakes: Int?
    /// HTTP/2 streams open at once, over all the source's connections; nil = no limit.
    public var concurrentStreams: Int?
    /// Clients in these networks are never limited (monitoring, a partner's NAT, the Edge pool).
    public var exceptions: [SourceNetwork]
    /// Sources one worker keeps counts for; past it, idle sources are forgotten first.
    public var trackedSources: Int

    public init(
        concurrentConnections: Int? = SourceLimits.defaultConcurrentConnections,
        connectionsPerMinute: Int? = SourceLimits.defaultConnectionsPerMinute,
        requestsPerMinute: Int? = SourceLimits.defaultRequestsPerMinute,
        halfOpenHandshakes: Int? = SourceLimits.defaultHalfOpenHandshakes,
        concurrentStreams: Int? = SourceLimits.defaultConcurrentStreams,
        exceptions: [SourceNetwork] = [],
        trackedSources: Int = SourceLimits.defaultTrackedSources
    ) {
        self.concurrentConnections = concurrentConnections
        self.connectionsPerMinute = connectionsPerMinute
        self.requestsPerMinute = requestsPerMinute
        self.halfOpenHandshakes = halfOpenHandshakes
        self.concurrentStreams = concurrentStreams
        self.exceptions = exceptions
        self.trackedSources = trackedSources
    }

    /// No limit at all: what applies when the configuration has no `limits:` section.
    public static let off = SourceLimits(
        concurrentConnections: nil, connectionsPerMinute: nil, requestsPerMinute: nil, halfOpenHandshakes: nil,
        concurrentStreams: nil
    )

    /// True when `client` is in an exception network.
    public func isException(_ client: ClientAddress) -> Bool {
        exceptions.contains { $0.contains(client) }
    }
}

/// A rule's own request limit: requests the rule matches count in a window of their own
/// per source, instead of the global `requests_per_minute`.
public struct RuleLimits: Hashable, Sendable {
    /// Requests per source and minute for this rule; nil = none.
    public var requestsPerMinute: Int?

    public init(requestsPerMinute: Int?) {
        self.requestsPerMinute = requestsPerMinute
    }
}
