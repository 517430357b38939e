/// One farm in the control socket's `farm-status` reply (`edgesplit farm status`): every
/// member's health as the process sees it.
public struct FarmStatus: Codable, Sendable, Equatable {
    public struct Member: Codable, Sendable, Equatable {
        /// As written in the configuration (`host:port`).
        public var member: String
        /// `up`, `down` or `drained`.
        public var state: String
        public var up: Bool
        public var drained: Bool
        public var consecutiveFailures: Int
        /// The last health check's result, empty before the first.
        public var lastCheck: String
        /// ISO 8601, empty before the first check.
        public var lastCheckAt: String

        enum CodingKeys: String, CodingKey {
            case member, state, up, drained
            case consecutiveFailures = "consecutive_failures", lastCheck = "last_check", lastCheckAt = "last_check_at"
        }

        public init(member: String, state: String, up: Bool, drained: Bool, consecutiveFailures: Int, lastCheck: String, lastCheckAt: String) {
            (self.member, self.state, self.up, self.drained) = (member, state, up, drained)
            (self.consecutiveFailures, self.lastCheck, self.lastCheckAt) = (consecutiveFailures, lastCheck, lastCheckAt)
        }
    }

    public var name: String
    /// Whether the farm has a `health` check (else members are judged by traffic only).
    public var activeChecks: Bool
    public var members: [Member]

    enum CodingKeys: String, CodingKey {
        case name, members
        case activeChecks = "active_checks"
    }

    public init(name: String, activeChecks: Bool, members: [Member]) {
        (self.name, self.activeChecks, self.members) = (name, activeChecks, members)
    }
}
