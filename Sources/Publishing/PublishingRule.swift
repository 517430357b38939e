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
    /// The rule's own per-source request limit; nil = the global `limits` apply.
    public var limits: RuleLimits?
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
