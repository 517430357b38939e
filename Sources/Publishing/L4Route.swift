/// A name forwarded at L4 without terminating TLS: a listener decides from the SNI of the
/// client's ClientHello, before any L7 rule, and passes the connection's bytes unchanged to
/// a member of `farm` (plain TCP endpoints that speak TLS themselves). Used where the
/// member must hold the TLS session: end-to-end TLS, client certificates, or a second
/// service sharing the public 443 address.
public struct L4Route: Hashable, Sendable {
    public var name: String
    /// Matched against the ClientHello's server_name like a rule's public names (exact or
    /// `*.suffix`); the first route of the listener that matches wins.
    public var publicNames: [HostPattern]
    public var farm: String
    /// Send a PROXY protocol header before the client's bytes, so members see the client.
    public var proxyProtocol: ProxyProtocolVersion?
    /// A passed-through connection with no payload either way for this long is closed: the
    /// L7 rules' `idle`, for connections whose bytes edgesplit never reads.
    public var idle: Duration
    public var position: SourcePosition

    /// The default `idle`: a rule's default, long enough for Lync's 30-minute keep-alives.
    public static let defaultIdle = Duration.seconds(1800)

    public init(
        name: String, publicNames: [HostPattern], farm: String, proxyProtocol: ProxyProtocolVersion? = nil,
        idle: Duration = L4Route.defaultIdle, position: SourcePosition
    ) {
        self.name = name
        self.publicNames = publicNames
        self.farm = farm
        self.proxyProtocol = proxyProtocol
        self.idle = idle
        self.position = position
    }

    /// True when `serverName` (lowercase, as the ClientHello parser reports it) is one of
    /// the route's public names.
    public func matches(serverName: String) -> Bool {
        var name = serverName
        return name.withUTF8 { bytes in publicNames.contains { $0.matches(normalizedHost: bytes) } }
    }
}

/// The PROXY protocol header version sent to L4 members. Only the binary v2 is offered:
/// it carries IPv4 and IPv6 alike and members parse it without ambiguity.
public enum ProxyProtocolVersion: String, Hashable, Sendable, CaseIterable {
    case v2
}

extension Listener {
    /// The index of the first L4 route whose public names match `serverName`; nil means
    /// the connection continues as L7 (also when the client sent no SNI).
    public func l4Route(forServerName serverName: String?) -> Int? {
        guard let serverName else { return nil }
        return l4Routes.firstIndex { $0.matches(serverName: serverName) }
    }
}

extension EdgesplitConfig {
    /// Every L4 route of the instance, listeners in order: the index `stats`, the metrics
    /// and the kernel's byte counters use.
    public var l4Routes: [L4Route] { listeners.flatMap(\.l4Routes) }

    /// The instance-wide index of route `route` of listener `listener`.
    public func l4RouteIndex(listener: Int, route: Int) -> Int {
        listeners[..<listener].reduce(0) { $0 + $1.l4Routes.count } + route
    }
}
