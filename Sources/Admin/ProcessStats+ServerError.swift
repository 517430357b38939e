extension ProcessStats {
    /// One recent 5xx answer: when, by which rule and member, on which worker. The dashboard
    /// lists them so an operator sees which member fails without reading the access log.
    public struct ServerError: Codable, Sendable, Equatable {
        /// ISO 8601.
        public var time: String
        public var rule: String
        public var member: String
        public var status: Int
        public var worker: Int

        public init(time: String, rule: String, member: String, status: Int, worker: Int) {
            (self.time, self.rule, self.member, self.status, self.worker) = (time, rule, member, status, worker)
        }
    }
}
