/// One step of `edgesplit test-rule`, TMG's Test Rule: PASS or FAIL with the reason, and
/// the details that explain it (earlier rules that did not match, the persistence hash…).
public struct TestRuleStep: Hashable, Sendable {
    public enum Result: String, Hashable, Sendable {
        case pass
        case fail
        /// Not run because an earlier step failed or it does not apply.
        case skip
    }

    /// `worker`, `listener`, `rule`, `member`, `dns`, `tcp`, `tls`, `http`.
    public var step: String
    public var result: Result
    public var reason: String
    public var details: [String]

    public init(_ step: String, _ result: Result, _ reason: String, details: [String] = []) {
        self.step = step
        self.result = result
        self.reason = reason
        self.details = details
    }

    /// `PASS  rule      reason`, then indented details.
    public var text: String {
        let head = "\(result.rawValue.uppercased().padding(toLength: 5, withPad: " ", startingAt: 0)) \(step.padding(toLength: 9, withPad: " ", startingAt: 0)) \(reason)"
        return ([head] + details.map { "                " + $0 }).joined(separator: "\n")
    }
}
