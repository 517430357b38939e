import Yams

/// The `limits:` sections: global per-source limits and a rule's own request limit.
extension ConfigReader {
    /// Largest value any limit takes: far above anything one address can do in a minute.
    static let maximumLimit = 1_000_000

    mutating func readLimits(_ node: Node) -> SourceLimits? {
        guard let fields = readFields(of: node, path: "limits", owner: "limits", allowed: ConfigKeys.limits) else { return nil }
        var limits = SourceLimits()
        var ok = true
        func read(_ key: String, _ set: (inout SourceLimits, Int?) -> Void) {
            guard let n = fields[key] else { return }
            if let value = limit(n, fields.sub(key)) { set(&limits, value) } else { ok = false }
        }
        read("concurrent_connections") { $0.concurrentConnections = $1 }
        read("connections_per_minute") { $0.connectionsPerMinute = $1 }
        read("requests_per_minute") { $0.requestsPerMinute = $1 }
        read("half_open_handshakes") { $0.halfOpenHandshakes = $1 }
        read("concurrent_streams") { $0.concurrentStreams = $1 }
        if let n = fields["exceptions"] {
            if let networks = parsedList(n, fields.sub("exceptions"), whenEmpty: "omit the key when no network is exempt", SourceNetwork.parse) {
                limits.exceptions = networks
            } else {
                ok = false
            }
        }
        if let n = fields["tracked_sources"] {
            if let v = int(n, fields.sub("tracked_sources"), 1024...16_777_216) { limits.trackedSources = v } else { ok = false }
        }
        if let concurrent = limits.concurrentConnections, let halfOpen = limits.halfOpenHandshakes, halfOpen > concurrent,
           let n = fields["half_open_handshakes"] ?? fields["concurrent_connections"] {
            warning(
                "limits.half_open_handshakes: \(halfOpen) is more than concurrent_connections (\(concurrent)); a handshake is a connection, so concurrent_connections limits first",
                at: n
            )
        }
        return ok ? limits : nil
    }

    /// A rule's `limits:`: only `requests_per_minute`, since connections are admitted before
    /// any request says which rule it is for.
    mutating func readRuleLimits(_ node: Node, path: String, owner: String) -> RuleLimits? {
        guard let fields = readFields(of: node, path: path, owner: "the limits of \(owner)", allowed: ConfigKeys.limits) else { return nil }
        var ok = true
        for key in ConfigKeys.limits where key != "requests_per_minute" {
            guard let keyNode = fields.keyNode(key) else { continue }
            error(
                "\(fields.sub(key)): only requests_per_minute can be set per rule: connections are limited when they are accepted, before any request names a rule; set \(key) in the top-level limits",
                at: keyNode
            )
            ok = false
        }
        guard let n = fields["requests_per_minute"] else {
            if ok { error("\(path): expected requests_per_minute (an integer or off), got nothing", at: node) }
            return nil
        }
        guard let value = limit(n, fields.sub("requests_per_minute")), ok else { return nil }
        return RuleLimits(requestsPerMinute: value)
    }

    /// A limit: a positive integer, or `off` for none (returned as `.some(nil)`).
    mutating func limit(_ node: Node, _ path: String) -> Int?? {
        if case let .scalar(scalar) = node, ["off", "none"].contains(scalar.string.lowercased()) { return .some(nil) }
        let expected = "expected an integer 1...\(Self.maximumLimit) or off, got \(describe(node))"
        guard case let .scalar(scalar) = node, scalar.string.allSatisfy({ $0.isASCII && $0.isNumber }),
              scalar.string.count <= 9, let value = Int(scalar.string), (1...Self.maximumLimit).contains(value)
        else {
            error("\(path): \(expected)", at: node)
            return nil
        }
        return .some(value)
    }
}
