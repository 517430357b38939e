/// `edgesplit test-rule --json`: the chain of steps from worker to farm member (and, with
/// `--probe`, the member's answers), each passed, failed or skipped, and why.
public struct RuleTestReport: Codable, Sendable, Equatable {
    public struct Step: Codable, Sendable, Equatable {
        /// `worker`, `listener`, `rule`, `member`, then the probe's `dns`, `tcp`, `tls`, `http`.
        public var step: String
        /// `pass`, `fail` or `skip`.
        public var result: String
        public var reason: String
        public var details: [String]

        public init(step: String, result: String, reason: String, details: [String]) {
            (self.step, self.result, self.reason, self.details) = (step, result, reason, details)
        }
    }

    public var url: String
    public var client: String
    /// `pass` when every step passed, else `fail`.
    public var result: String
    public var steps: [Step]

    public init(url: String, client: String, result: String, steps: [Step]) {
        (self.url, self.client, self.result, self.steps) = (url, client, result, steps)
    }
}
