import Admin
import Affinity
import ArgumentParser
import EdgeTLS
import NIOCore
import NIOPosix
import MemberConnections
import Proxy
import Publishing
import Steering

/// `edgesplit test-rule`: TMG's Test Rule and a simulator in one chain of PASS/FAIL steps.
struct TestRuleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-rule",
        abstract: "Show where a request would go (worker, listener, rule, farm member) and, with --probe, test the member.",
        discussion: """
            Steps: worker (the kernel's choice for the client, from the configuration's workers, affinity and seed), \
            listener (by the URL's scheme and port), rule (every earlier rule and why it did not match), member (the \
            farm member and why). With --probe, like TMG's Test Rule button: dns, tcp, tls (verified against the farm's \
            ca and server_name) and an anonymous GET of the URL's path with the Host the member receives, showing the \
            status and the WWW-Authenticate schemes offered. Exits 0 when every step passes, 1 otherwise.
            """
    )

    @Option(name: .shortAndLong, help: "The configuration file.")
    var config: String

    @Argument(help: "The URL a client would request, e.g. https://meet.contoso.com/alice/ABC123.")
    var url: String

    @Option(help: "The client's IP address.")
    var client: String = "127.0.0.1"

    @Option(help: "A cookie the client sends, NAME=VALUE (e.g. MS-WSMAN=…).")
    var cookie: String?

    @Option(help: "Override the configured number of workers, as serve --workers (default: the file's workers, else the number of CPUs).")
    var workers: Int?

    @Flag(help: "Also resolve, connect to, handshake with and GET from the chosen member.")
    var probe = false

    @Flag(help: "Print JSON (stable snake_case keys).")
    var json = false

    func run() throws {
        let request: TestRuleRequest
        do {
            request = try TestRuleRequest.parse(url)
        } catch {
            throw Stderr.failure("test-rule: \(error.message)")
        }
        guard let clientAddress = ClientAddress(client) else {
            throw Stderr.failure("test-rule: --client '\(client)' is not an IPv4 or IPv6 address")
        }
        var cookiePair: (name: String, value: String)?
        if let cookie {
            guard let eq = cookie.firstIndex(of: "="), eq != cookie.startIndex else {
                throw Stderr.failure("test-rule: --cookie '\(cookie)': expected NAME=VALUE")
            }
            cookiePair = (String(cookie[..<eq]), String(cookie[cookie.index(after: eq)...]))
        }
        let loaded: EdgesplitConfig
        do {
            loaded = try ConfigurationFile.load(path: config)
        } catch is ConfigurationFile.Invalid {
            throw ExitCode(1)
        }
        let workerCount = max(1, min(workers ?? loaded.workers ?? System.coreCount, SteeringConfiguration.maxWorkers))
        let simulation = RuleSimulation(config: loaded, workerCount: workerCount)
        let outcome = simulation.run(request, client: clientAddress, cookie: cookiePair)
        var steps = outcome.steps
        if let index = steps.firstIndex(where: { $0.step == "worker" }), let live = liveWorker(instance: loaded.instance, client: clientAddress) {
            steps[index].details.append(
                live == outcome.worker
                    ? "the running instance '\(loaded.instance)' agrees (live maps)"
                    : "the running instance '\(loaded.instance)' picks worker \(live) (its live maps differ: drained workers, other prefixes or worker count, or bounded loads overflow this client now)")
        }
        if probe {
            steps += probeSteps(outcome, config: loaded, request: request)
        }
        let passed = !steps.contains { $0.result == .fail }
        if json {
            let report = RuleTestReport(
                url: url, client: "\(clientAddress)", result: passed ? "pass" : "fail",
                steps: steps.map { RuleTestReport.Step(step: $0.step, result: $0.result.rawValue, reason: $0.reason, details: $0.details) })
            print(JSONOutput.text(report))
        } else {
            print("test-rule \(url) from client \(clientAddress)")
            for step in steps { print(step.text) }
            print(passed ? "RESULT: PASS" : "RESULT: FAIL")
        }
        if !passed { throw ExitCode.failure }
    }

    /// The worker a running instance's pinned maps pick, when there is one (else nil).
    private func liveWorker(instance: String, client: ClientAddress) -> Int? {
        guard let maps = try? InstanceMaps(instance: instance) else { return nil }
        return try? maps.worker(for: client)
    }

    private func probeSteps(_ outcome: RuleSimulation.Outcome, config: EdgesplitConfig, request: TestRuleRequest) -> [TestRuleStep] {
        guard let farmIndex = outcome.farmIndex, let memberIndex = outcome.memberIndex else {
            return [TestRuleStep("probe", .skip, "not run: no member was chosen")]
        }
        if outcome.l4RouteIndex != nil {
            // The member terminates the client's TLS with its own certificate: edgesplit's
            // probe (an HTTP GET, verified against a farm CA) does not apply.
            return [TestRuleStep("probe", .skip, "not run: an L4 route passes the client's TLS through; test the member with a TLS client")]
        }
        let farm = config.farms[farmIndex]
        let member = farm.members[memberIndex]
        var tls: MemberTLSContext?
        var trust = "none (plain HTTP)"
        if let farmTLS = farm.tls {
            trust = farmTLS.ca.map { "the CA in '\($0)'" } ?? "the system roots"
            do {
                tls = try MemberTLSContext(farm: farm, tls: farmTLS, readFile: { try ServerEnvironment.readFileFromDisk($0) })
            } catch {
                return [TestRuleStep("tls", .fail, "cannot set up TLS toward farm '\(farm.name)': \(error)")]
            }
        }
        let hostHeader = outcome.memberHostHeader ?? memberAuthority(member, tls: farm.tls != nil)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        return MemberProbe(member: member, tls: tls, trustDescription: trust, hostHeader: hostHeader, target: request.target)
            .run(group: group)
    }

    /// `host[:port]` of a member as the data plane sends it without forward_original_host.
    private func memberAuthority(_ member: FarmMember, tls: Bool) -> String {
        let host = member.host.contains(":") ? "[\(member.host)]" : member.host
        return member.port == (tls ? 443 : 80) ? host : "\(host):\(member.port)"
    }
}
