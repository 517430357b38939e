import Affinity

/// `edgesplit test-rule` without the network: where the kernel, the rules and the farm's
/// persistence would send one request, step by step, with the reason for each. It uses the
/// same code as the data plane — `SteeringModel` for the worker, `RuleTable.explain` for the
/// rules, `FarmMemberTable` for the member — so it cannot disagree with it.
public struct RuleSimulation: Sendable {
    public let config: EdgesplitConfig
    /// Workers of the instance (`config.workers`, or the CPU count the CLI passes).
    public let workerCount: Int

    public init(config: EdgesplitConfig, workerCount: Int) {
        self.config = config
        self.workerCount = max(1, workerCount)
    }

    /// What the simulation decided, for the steps that follow (the probe).
    public struct Outcome: Sendable {
        public var steps: [TestRuleStep]
        public var worker: Int?
        public var listenerIndex: Int?
        public var ruleIndex: Int?
        public var farmIndex: Int?
        public var memberIndex: Int?
        /// The instance-wide index of the L4 route that passes the connection through, if any.
        public var l4RouteIndex: Int?
        /// The Host header the member receives.
        public var memberHostHeader: String?

        /// True when every step passed.
        public var passed: Bool { !steps.contains { $0.result == .fail } }
    }

    public var mask: AffinityMask {
        AffinityMask(ipv4Prefix: config.affinity.ipv4Prefix, ipv6Prefix: config.affinity.ipv6Prefix) ?? .host
    }

    /// Runs the steps for `request` from `client`, with an optional `Cookie` (name, value).
    public func run(_ request: TestRuleRequest, client: ClientAddress, cookie: (name: String, value: String)? = nil) -> Outcome {
        var outcome = Outcome(steps: [])

        // 1. The worker: the kernel's Maglev table over workers 0..<N.
        let steering = SteeringModel(
            configuration: SteeringConfiguration(mask: mask, seed: config.affinity.seed, workerCount: min(workerCount, SteeringConfiguration.maxWorkers))
        )
        let hash = steering.hash(of: client)
        let masked = AffinityHash.masked(client, mask: mask)
        let prefix = mask.prefix(for: client.family)
        if let worker = steering.worker(for: client) {
            outcome.worker = worker
            outcome.steps.append(
                TestRuleStep(
                    "worker", .pass, "worker \(worker) of \(workerCount)",
                    details: ["kernel steering: hash(\(masked)/\(prefix), seed \(config.affinity.seed)) = \(hex(hash)), Maglev slot \(hash % UInt32(MaglevTable.workerTableSize))"]
                ))
        } else {
            outcome.steps.append(TestRuleStep("worker", .pass, "the kernel's own choice (empty table slot)"))
        }

        // 2. The listener: by scheme and port.
        let wantTLS = request.scheme == "https"
        let candidates = config.listeners.indices.filter { config.listeners[$0].port == request.port && (config.listeners[$0].tls != nil) == wantTLS }
        guard let listenerIndex = candidates.first else {
            let known = config.listeners.map { "'\($0.name)' \($0.tls == nil ? "http" : "https") \($0.address):\($0.port)" }
            outcome.steps.append(
                TestRuleStep("listener", .fail, "no \(request.scheme) listener on port \(request.port)", details: ["listeners: " + known.joined(separator: ", ")]))
            return outcome
        }
        outcome.listenerIndex = listenerIndex
        let listener = config.listeners[listenerIndex]
        var listenerDetails: [String] = []
        if candidates.count > 1 {
            listenerDetails.append("also on port \(request.port): " + candidates.dropFirst().map { "'\(config.listeners[$0].name)' (\(config.listeners[$0].address))" }.joined(separator: ", ") + "; rules are tested on the first")
        }
        outcome.steps.append(
            TestRuleStep("listener", .pass, "'\(listener.name)' \(request.scheme) \(listener.address):\(listener.port)", details: listenerDetails))

        // 3a. L4 routes: by SNI, before the rules (a ClientHello carries no IP literal).
        if wantTLS, ClientAddress(request.host) == nil, !request.host.hasPrefix("["),
            let routeIndex = listener.l4Route(forServerName: request.host.lowercased())
        {
            let route = listener.l4Routes[routeIndex]
            outcome.l4RouteIndex = config.l4RouteIndex(listener: listenerIndex, route: routeIndex)
            outcome.farmIndex = config.farmIndex(named: route.farm)
            let skipped = listener.l4Routes[..<routeIndex].map { "L4 route '\($0.name)': skipped: SNI is not one of its public names" }
            outcome.steps.append(
                TestRuleStep(
                    "l4 route", .pass,
                    "L4 route '\(route.name)' passes the connection through to farm '\(route.farm)': TLS is not terminated, no rule applies",
                    details: skipped + [route.proxyProtocol == .v2 ? "a PROXY protocol v2 header precedes the client's bytes" : "no PROXY protocol header"]))
            appendMemberStep(to: &outcome, client: client, cookie: nil, passthrough: true)
            return outcome
        }

        // 3. The rules, in order.
        // The path as the data plane reads it for the rules (decoded, normalised) or its 400.
        let table = RuleTable(config: config)
        let host = Array(request.hostHeader.utf8)
        let matchingPath: [UInt8]
        switch table.matchingPath(listener: listenerIndex, host: host, requestPath: Array(request.path.utf8), client: client) {
        case .success(let path): matchingPath = path
        case .failure(let refusal):
            outcome.steps.append(TestRuleStep("rule", .fail, "path '\(request.path)' is refused: \(refusal): 400"))
            return outcome
        }
        let steps = table.explain(listener: listenerIndex, host: host, path: matchingPath, client: client)
        let shownPath = String(decoding: matchingPath, as: UTF8.self)
        let normalised = shownPath == request.path ? [] : ["rules match the path as the member reads it: '\(shownPath)'"]
        let earlier = normalised + steps.dropLast().map(\.description)
        let decided = steps.last
        switch decided?.outcome {
        case .matched?:
            let rule = config.rules[decided!.ruleIndex]
            outcome.ruleIndex = decided!.ruleIndex
            outcome.farmIndex = rule.farm.flatMap(config.farmIndex(named:))
            let hostSent: String
            if rule.forwardOriginalHost {
                hostSent = "Host sent to the member: \(request.hostHeader) (original Host forwarded)"
                outcome.memberHostHeader = request.hostHeader
            } else {
                hostSent = "Host sent to the member: the member's host:port (forward_original_host: false)"
            }
            outcome.steps.append(
                TestRuleStep(
                    "rule", .pass, "rule '\(rule.name)' forwards to farm '\(rule.farm ?? "?")'",
                    details: earlier + [hostSent, "timeouts: connect \(seconds(rule.timeouts.connect)), response \(seconds(rule.timeouts.response)), idle \(seconds(rule.timeouts.idle))"]
                        + (rule.maxBody.map { ["max_body: \($0) bytes"] } ?? [])
                ))
        case .denied?:
            outcome.ruleIndex = decided!.ruleIndex
            outcome.steps.append(TestRuleStep("rule", .fail, "rule '\(decided!.ruleName)' is a deny rule: 403", details: earlier))
            return outcome
        case .sourceOutsideNetworks?:
            outcome.ruleIndex = decided!.ruleIndex
            let rule = config.rules[decided!.ruleIndex]
            outcome.steps.append(
                TestRuleStep(
                    "rule", .fail, "rule '\(rule.name)' matches but client \(client) is outside its source_networks: 403",
                    details: earlier + ["source_networks: " + rule.sourceNetworks.map(\.description).joined(separator: ", ")]))
            return outcome
        default:
            outcome.steps.append(
                TestRuleStep(
                    "rule", .fail, "no rule matches host '\(request.host)' path '\(shownPath)' on listener '\(listener.name)': 404",
                    details: normalised + steps.map(\.description)))
            return outcome
        }

        // 4. The member.
        appendMemberStep(to: &outcome, client: client, cookie: cookie, passthrough: false)
        return outcome
    }

    /// Step 4: the farm member by the farm's persistence (for an L4 route or a rule).
    private func appendMemberStep(to outcome: inout Outcome, client: ClientAddress, cookie: (name: String, value: String)?, passthrough: Bool) {
        let masked = AffinityHash.masked(client, mask: mask)
        let prefix = mask.prefix(for: client.family)
        guard let farmIndex = outcome.farmIndex else {
            outcome.steps.append(TestRuleStep("member", .fail, "the farm does not exist"))
            return
        }
        let farm = config.farms[farmIndex]
        var details: [String] = []
        let memberTable = FarmMemberTable(farm: farm, mask: mask, seed: config.affinity.seed)
        let persistenceCookie = farm.persistence == .cookie ? PersistenceCookie(farm: farm, seed: config.affinity.seed) : nil
        var fromCookie: Int?
        if let cookie {
            if let persistenceCookie, cookie.name == farm.cookieName {
                fromCookie = persistenceCookie.member(inCookieHeader: Array("\(cookie.name)=\(cookie.value)".utf8))
                if fromCookie == nil {
                    details.append("cookie \(cookie.name)=\(cookie.value) names no member of farm '\(farm.name)': ignored (stale or forged)")
                }
            } else if farm.persistence == .cookie {
                details.append("cookie \(cookie.name) ignored: the farm's persistence cookie is \(farm.cookieName)")
            } else {
                details.append("cookie \(cookie.name) ignored: the farm uses \(farm.persistence.rawValue) persistence")
            }
        }
        let member: Int?
        let why: String
        switch farm.persistence {
        case .none:
            member = farm.members.isEmpty ? nil : 0
            why = "persistence none: the member with the fewest outstanding requests (at rest, the first)"
        case .source, .cookie:
            if let fromCookie {
                member = fromCookie
                why = "persistence cookie: \(farm.cookieName) names this member (if it is up)"
            } else {
                member = memberTable.member(for: client)
                why = farm.members.count == 1
                    ? "the farm's only member"
                    : "source persistence: hash(\(masked)/\(prefix), seed \(config.affinity.seed)) = \(hex(memberTable.hash(of: client))) over \(farm.members.count) members"
                if let persistenceCookie, let member {
                    details.append("the response carries Set-Cookie: \(persistenceCookie.setCookie(member: member))")
                }
            }
        }
        guard let member else {
            outcome.steps.append(TestRuleStep("member", .fail, "farm '\(farm.name)' has no member\(passthrough ? "" : ": 503")", details: details))
            return
        }
        outcome.memberIndex = member
        let m = farm.members[member]
        var connection = passthrough ? "plain TCP carrying the client's own TLS" : farm.tls == nil ? "plain HTTP" : "TLS"
        if let tls = farm.tls, !passthrough {
            let name = tls.serverName ?? (m.isLiteralAddress ? "its address \(m.host) (IP SAN)" : m.host)
            connection += tls.verify ? ", verified as \(name) against \(tls.ca ?? "the system roots")" : ", member certificate NOT verified (verify: false)"
        }
        outcome.steps.append(
            TestRuleStep("member", .pass, "farm '\(farm.name)' member \(m.text) (\(connection))", details: [why] + details))
    }
}

func hex(_ value: UInt32) -> String {
    let s = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
