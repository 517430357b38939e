extension ProcessStats {
    /// One farm member as this process sees it: health state, exchanges in flight and
    /// forwarded, and the last health check.
    public struct Member: Codable, Sendable, Equatable {
        public var farm: String
        /// As written in the configuration (`host:port`).
        public var member: String
        /// `up`, `down` or `drained`.
        public var state: String
        /// Exchanges in flight now.
        public var active: Int = 0
        public var consecutiveFailures: Int = 0
        /// Exchanges forwarded since the configuration was loaded.
        public var requests: UInt64 = 0
        /// The last health check's result, empty before the first.
        public var lastCheck: String = ""
        /// ISO 8601, empty before the first check.
        public var lastCheckAt: String = ""

        enum CodingKeys: String, CodingKey {
            case farm, member, state, active, requests
            case consecutiveFailures = "consecutive_failures", lastCheck = "last_check", lastCheckAt = "last_check_at"
        }

        public init(farm: String, member: String, state: String) {
            (self.farm, self.member, self.state) = (farm, member, state)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            farm = try c.value(.farm, or: "?")
            member = try c.value(.member, or: "?")
            state = try c.value(.state, or: "?")
            active = try c.value(.active, or: 0)
            consecutiveFailures = try c.value(.consecutiveFailures, or: 0)
            requests = try c.value(.requests, or: 0)
            lastCheck = try c.value(.lastCheck, or: "")
            lastCheckAt = try c.value(.lastCheckAt, or: "")
        }
    }
}
