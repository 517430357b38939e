import Affinity

/// The publishing rules in the form the data plane evaluates per request: patterns are
/// lowercased bytes, listener sets are bitmaps, farm names are indexes. Built once per
/// configuration; `decide` allocates nothing for DNS-name hosts.
public struct RuleTable: Sendable {
    struct CompiledRule: Sendable {
        var listeners: [Bool]  // by listener index
        var names: [HostPattern]
        var paths: [PathPattern]
        var networks: [SourceNetwork]
        var allNetworks: Bool
        var farmIndex: Int?
        var deny: Bool
        var name: String
    }

    let rules: [CompiledRule]
    public let listenerCount: Int

    /// Compiles `config`, which is expected to be valid (from `ConfigLoader`). An allow rule
    /// whose farm does not exist, possible only in a hand-built configuration, denies.
    public init(config: EdgesplitConfig) {
        listenerCount = config.listeners.count
        rules = config.rules.map { rule in
            let listeners = config.listeners.map { l in rule.listeners?.contains(l.name) ?? true }
            let allNetworks = rule.sourceNetworks.contains(SourceNetwork.anyIPv4) && rule.sourceNetworks.contains(SourceNetwork.anyIPv6)
            let farmIndex = rule.action == .allow ? rule.farm.flatMap(config.farmIndex(named:)) : nil
            return CompiledRule(
                listeners: listeners, names: rule.publicNames, paths: rule.paths, networks: rule.sourceNetworks,
                allNetworks: allNetworks, farmIndex: farmIndex, deny: farmIndex == nil, name: rule.name
            )
        }
    }

    /// Decides a request: the first rule (in order) whose listeners include `listener`,
    /// whose public names match the Host header and whose paths match `path` wins. Its
    /// source networks and action then decide; a refusal never falls through.
    ///
    /// - Parameters:
    ///   - listener: index into `config.listeners`.
    ///   - host: the raw Host header (or :authority) value; nil when absent.
    ///   - path: the path to match, already normalised (``PathNormalizer``); requests go
    ///     through ``decide(listener:host:requestPath:client:)``, which normalises.
    public func decide<Host: Collection<UInt8>, Path: Collection<UInt8>>(
        listener: Int, host: Host?, path: Path, client: ClientAddress
    ) -> RuleDecision {
        decision(listener: listener, host: host, path: path, client: client)
    }

    public func decide<Path: Collection<UInt8>>(listener: Int, host: [UInt8]?, path: Path, client: ClientAddress) -> RuleDecision {
        decision(listener: listener, host: host, path: path, client: client)
    }

    /// The data plane's form: views of the received bytes, no generic code at run time (the
    /// generic forms cannot be specialised from another module and pay for metadata lookups).
    public func decide(listener: Int, host: UnsafeBufferPointer<UInt8>?, path: UnsafeBufferPointer<UInt8>, client: ClientAddress) -> RuleDecision {
        var decision = RuleDecision.noMatch
        evaluate(listener: listener, host: host, path: path, client: client) { index, outcome in
            switch outcome {
            case .matched: decision = rules[index].farmIndex.map { .forward(ruleIndex: index, farmIndex: $0) } ?? .deny(ruleIndex: index)
            case .denied: decision = .deny(ruleIndex: index)
            case .sourceOutsideNetworks: decision = .sourceNotAllowed(ruleIndex: index)
            case .listenerNotIncluded, .hostNotMatched, .pathNotMatched: break
            }
        }
        return decision
    }

    /// Decides a request by the path its member will see (``PathNormalizer``), not the raw
    /// bytes, so that `/%61dmin/x` or `/x/../admin/x` meets the rules for `/admin/*`. A path
    /// with a construct members read two ways (an encoded separator, `..;x`, `%25XX`) is
    /// refused when the rules would decide differently under the other reading, and decided
    /// as usual when they would not: on a listener whose rules for this host are all `/*`,
    /// Office Web Apps' and the address book's `%2F` paths pass.
    ///
    /// - Parameter requestPath: the raw path bytes of the request target, without the query.
    /// - Returns: the decision, or why the path is refused (400).
    public func decide(
        listener: Int, host: UnsafeBufferPointer<UInt8>?, requestPath: UnsafeBufferPointer<UInt8>, client: ClientAddress
    ) -> Result<RuleDecision, PathNormalizer.Refusal> {
        guard PathNormalizer.needsNormalizing(requestPath) else {
            return .success(decide(listener: listener, host: host, path: requestPath, client: client))
        }
        return resolve(listener: listener, host: host, requestPath: requestPath, client: client).map(\.decision)
    }

    /// The path the rules match for `requestPath` (what `test-rule` explains with), or why
    /// it is refused; the same reading as ``decide(listener:host:requestPath:client:)``.
    public func matchingPath<Host: Collection<UInt8>, Path: Collection<UInt8>>(
        listener: Int, host: Host?, requestPath: Path, client: ClientAddress
    ) -> Result<[UInt8], PathNormalizer.Refusal> {
        withBuffer(host) { hostBuffer in
            withBuffer(requestPath) { pathBuffer in
                resolve(listener: listener, host: hostBuffer, requestPath: pathBuffer ?? UnsafeBufferPointer(start: nil, count: 0), client: client)
                    .map(\.path)
            }
        }
    }

    private func resolve(
        listener: Int, host: UnsafeBufferPointer<UInt8>?, requestPath: UnsafeBufferPointer<UInt8>, client: ClientAddress
    ) -> Result<(path: [UInt8], decision: RuleDecision), PathNormalizer.Refusal> {
        func decided(_ path: [UInt8]) -> RuleDecision {
            path.withUnsafeBufferPointer { decide(listener: listener, host: host, path: $0, client: client) }
        }
        do throws(PathNormalizer.Refusal) {
            let first = try PathNormalizer.normalize(requestPath)
            let decision = decided(first.path)
            // Every combination of the second readings present: one member may split `%2F`
            // and keep `..;x` as a name, another the reverse.
            for bits in 1...PathNormalizer.Reading.all.rawValue {
                let reading = PathNormalizer.Reading(rawValue: bits)
                guard first.ambiguities.isSuperset(of: reading) else { continue }
                if decided(try PathNormalizer.normalize(requestPath, reading: reading).path) != decision {
                    return .failure(.ambiguous(reading))
                }
            }
            return .success((first.path, decision))
        } catch {
            return .failure(error)
        }
    }

    private func decision<Host: Collection<UInt8>, Path: Collection<UInt8>>(
        listener: Int, host: Host?, path: Path, client: ClientAddress
    ) -> RuleDecision {
        withBuffer(host) { hostBuffer in
            withBuffer(path) { pathBuffer in
                decide(listener: listener, host: hostBuffer, path: pathBuffer ?? UnsafeBufferPointer(start: nil, count: 0), client: client)
            }
        }
    }

    /// Every rule evaluated for this request, in order, up to and including the one that
    /// decided it.
    public func explain<Host: Collection<UInt8>, Path: Collection<UInt8>>(
        listener: Int, host: Host?, path: Path, client: ClientAddress
    ) -> [RuleEvaluation] {
        evaluations(listener: listener, host: host, path: path, client: client)
    }

    public func explain<Path: Collection<UInt8>>(listener: Int, host: [UInt8]?, path: Path, client: ClientAddress) -> [RuleEvaluation] {
        evaluations(listener: listener, host: host, path: path, client: client)
    }

    private func evaluations<Host: Collection<UInt8>, Path: Collection<UInt8>>(
        listener: Int, host: Host?, path: Path, client: ClientAddress
    ) -> [RuleEvaluation] {
        var steps: [RuleEvaluation] = []
        evaluate(listener: listener, host: host, path: path, client: client) { index, outcome in
            steps.append(RuleEvaluation(ruleIndex: index, ruleName: rules[index].name, outcome: outcome))
        }
        return steps
    }

    @inline(__always)
    private func evaluate<Host: Collection<UInt8>, Path: Collection<UInt8>>(
        listener: Int, host: Host?, path: Path, client: ClientAddress,
        _ report: (Int, RuleEvaluation.Outcome) -> Void
    ) {
        withBuffer(host) { hostBuffer in
            withBuffer(path) { pathBuffer in
                evaluate(listener: listener, host: hostBuffer, path: pathBuffer ?? UnsafeBufferPointer(start: nil, count: 0), client: client, report)
            }
        }
    }

    private func evaluate(
        listener: Int, host rawHost: UnsafeBufferPointer<UInt8>?, path: UnsafeBufferPointer<UInt8>, client: ClientAddress,
        _ report: (Int, RuleEvaluation.Outcome) -> Void
    ) {
        // The host as rules see it: a span of the header (no port, no trailing dot), or a
        // canonical copy for bracketed IPv6 literals.
        var canonical: [UInt8]? = nil
        var span: Range<Int>? = nil
        if let rawHost, let s = HostPattern.hostSpan(rawHost) {
            if rawHost[s.lowerBound] == UInt8(ascii: "[") {
                canonical = HostPattern.canonicalIPv6(UnsafeBufferPointer(rebasing: rawHost[s]))
            } else {
                span = s
            }
        }
        func hostMatches(_ names: [HostPattern]) -> Bool {
            if let span, let rawHost {
                let host = UnsafeBufferPointer(rebasing: rawHost[span])
                for name in names where name.matches(buffer: host) { return true }
                return false
            }
            if let canonical {
                return canonical.withUnsafeBufferPointer { host in names.contains { $0.matches(buffer: host) } }
            }
            return false
        }
        for index in rules.indices {
            // Borrowed, not copied: a copy would retain each of the rule's arrays.
            guard listener >= 0, listener < rules[index].listeners.count, rules[index].listeners[listener] else {
                report(index, .listenerNotIncluded)
                continue
            }
            guard hostMatches(rules[index].names) else {
                report(index, .hostNotMatched)
                continue
            }
            var pathMatched = false
            for p in rules[index].paths where p.matches(buffer: path) {
                pathMatched = true
                break
            }
            guard pathMatched else {
                report(index, .pathNotMatched)
                continue
            }
            if !rules[index].allNetworks, !rules[index].networks.contains(where: { $0.contains(client) }) {
                report(index, .sourceOutsideNetworks)
                return
            }
            report(index, rules[index].deny ? .denied : .matched)
            return
        }
    }
}

@inline(__always)
private func withBuffer<C: Collection<UInt8>, R>(_ bytes: C?, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
    guard let bytes else { return body(nil) }
    if let result = bytes.withContiguousStorageIfAvailable({ body($0) }) { return result }
    return Array(bytes).withUnsafeBufferPointer { body($0) }
}
