/// What the data plane does with a request.
public enum RuleDecision: Hashable, Sendable {
    /// Forward to `config.farms[farmIndex]` under `config.rules[ruleIndex]`.
    case forward(ruleIndex: Int, farmIndex: Int)
    /// A deny rule matched: answer 403.
    case deny(ruleIndex: Int)
    /// The rule matched but the client is outside its source_networks: answer 403.
    case sourceNotAllowed(ruleIndex: Int)
    /// No rule matched: answer 404.
    case noMatch

    /// The rule that decided, nil when none matched.
    public var ruleIndex: Int? {
        switch self {
        case .forward(let rule, _), .deny(let rule), .sourceNotAllowed(let rule): return rule
        case .noMatch: return nil
        }
    }
}

/// Why one rule did or did not take a request (what `test-rule` prints, in rule order).
public struct RuleEvaluation: Hashable, Sendable, CustomStringConvertible {
    public enum Outcome: Hashable, Sendable {
        case listenerNotIncluded
        case hostNotMatched
        case pathNotMatched
        /// Matched, but the client is outside the source networks (403; evaluation stops).
        case sourceOutsideNetworks
        /// Matched an allow rule: forwarded to the farm.
        case matched
        /// Matched a deny rule (403).
        case denied
    }

    public var ruleIndex: Int
    public var ruleName: String
    public var outcome: Outcome

    public init(ruleIndex: Int, ruleName: String, outcome: Outcome) {
        self.ruleIndex = ruleIndex
        self.ruleName = ruleName
        self.outcome = outcome
    }

    public var description: String {
        let why: String
        switch outcome {
        case .listenerNotIncluded: why = "skipped: not published on this listener"
        case .hostNotMatched: why = "skipped: host is not one of its public names"
        case .pathNotMatched: why = "skipped: path is not one of its paths"
        case .sourceOutsideNetworks: why = "matched, client outside its source_networks: 403"
        case .matched: why = "matched: forward"
        case .denied: why = "matched, deny rule: 403"
        }
        return "rule '\(ruleName)': \(why)"
    }
}
