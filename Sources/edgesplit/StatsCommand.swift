#if canImport(Glibc)
import AdminServer
import Glibc
#endif
import Admin
import Affinity
import ArgumentParser
import Foundation
import Proxy
import Publishing
import Steering

/// `edgesplit stats`: one screen from the kernel to the farm members.
///
/// The kernel part comes straight from the pinned BPF maps, so it still prints when the
/// process is hung or gone (and says so); the process part comes over the control socket.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Kernel steering, workers, listeners, rules, farm members and certificates of a running instance."
    )

    @Option(help: "The edgesplit instance.")
    var instance = "edgesplit"

    @Flag(help: "Print JSON (stable snake_case keys).")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp("Redraw every SECONDS (default 2) until interrupted, like top.", valueName: "seconds")
    )
    var watch: Double?

    @Option(
        name: .long, parsing: .upToNextOption,
        help: ArgumentHelp(
            "Merge the stats of several edge hosts into one report: each a control socket reachable here, or a file "
                + "holding a host's `stats --json`; NAME=PATH names the host in the report.",
            valueName: "host"
        )
    )
    var merge: [String] = []

    @Option(help: .hidden)
    var pinRoot = "/sys/fs/bpf/edgesplit"

    @Option(help: .hidden)
    var controlDirectory = ServerEnvironment.defaultControlDirectory

    func validate() throws {
        if let watch, !(watch >= 0.2 && watch <= 3600) {
            throw ValidationError("--watch takes a number of seconds between 0.2 and 3600")
        }
        if !merge.isEmpty, watch != nil { throw ValidationError("--merge prints once; it does not take --watch") }
    }

    func run() throws {
        if !merge.isEmpty {
            let report = MergedStats(try ControlClient.reporting { try merge.map(Self.mergeInput) })
            if json {
                ControlClient.printJSON(report)
            } else {
                print(report.text, terminator: "")
            }
            return
        }
        guard let interval = watch else {
            let sample = collect()
            print(json ? render(json: sample) : render(text: sample, previous: nil, interval: nil))
            return
        }
        var previous: Sample?
        while true {
            let sample = collect()
            if json {
                print(render(json: sample))
            } else {
                print("\u{1B}[H\u{1B}[2J" + render(text: sample, previous: previous, interval: interval), terminator: "")
            }
            fflush(nil)  // stdout; see DemoCommand
            previous = sample
            usleep(useconds_t(interval * 1_000_000))
        }
    }

    typealias Sample = StatsSample

    func collect() -> Sample {
        var sample = Sample()
        sample.readKernel(instance: instance, pinRoot: pinRoot)
        do {
            let target = try FarmCommand.Target.parse(["--instance", instance, "--control-directory", controlDirectory])
            if case .stats(let process) = try ControlClient.call(.stats, target: target) { sample.process = process }
        } catch {
            sample.processError = "\(error)"
        }
        return sample
    }

    /// `NAME=PATH` or `PATH`: a control socket is asked for its stats (a host that does not
    /// answer is reported as not running); anything else is read as a `stats --json` file.
    static func mergeInput(_ argument: String) throws -> MergedStats.Input {
        var name = argument
        var path = argument
        if let equals = argument.firstIndex(of: "="), !argument[..<equals].contains("/") {
            name = String(argument[..<equals])
            path = String(argument[argument.index(after: equals)...])
        }
        var status = stat()
        if stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK {
            // A host that does not answer, or refuses, is reported as not running.
            guard case .stats(let process)? = try? ControlConnection(path: path).call(.stats) else {
                return MergedStats.Input(host: name, process: nil)
            }
            return MergedStats.Input(host: name, process: process)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ControlClientError(message: "\(path): neither a control socket nor a readable stats file")
        }
        do {
            return try MergedStats.Input(host: name, json: data)
        } catch {
            throw ControlClientError(message: "\(path): not the JSON of `edgesplit stats --json`")
        }
    }

    // MARK: Text

    func render(text s: Sample, previous: Sample?, interval: Double?) -> String {
        var out = "edgesplit stats — instance \(instance) — \(ISO8601DateFormatter().string(from: s.time))\n"
        if let digest = s.process?.configurationDigest { out += "configuration sha256 \(digest)\n" }
        out += "\n"
        let workers = s.process?.workers ?? []
        let previousWorkers = previous?.process?.workers ?? []
        let uptime = s.process?.uptimeSeconds ?? 0

        // Kernel
        if let (configuration, counters, program) = s.kernel {
            out += "KERNEL STEERING  program \(program.id) \(program.name), \(program.attached ? "attached" : "not attached")"
            out += ", generation \(configuration.generation), prefixes /\(configuration.mask.ipv4Prefix) /\(configuration.mask.ipv6Prefix)\n"
            let ns = program.nanosecondsPerRun.map { String(format: "%.0f ns per decision", $0) } ?? "ns per decision: stats off"
            out += "  decisions \(counters.total), \(ns), fallbacks \(counters.fallback), migrations \(counters.migrations), IPv6 \(counters.ipv6)\n"
            if let balance = configuration.balance {
                let overflows = (0..<configuration.workerCount).reduce(UInt64(0)) { $0 + counters.overflowed(of: $1) }
                out += "  bounded loads: balance factor \(balance.text), overflows \(overflows)\n"
            }
            let selections = (0..<configuration.workerCount).map { counters.selections(of: $0) }
            if let maxSel = selections.max(), !selections.isEmpty, selections.reduce(0, +) > 0 {
                let mean = Double(selections.reduce(0, +)) / Double(selections.count)
                out += String(format: "  imbalance (max/mean of selections) %.2f\n", Double(maxSel) / mean)
            }
        } else {
            out += "KERNEL STEERING  \(s.kernelError ?? "not loaded")\n"
        }
        guard let process = s.process else {
            out += "\nPROCESS  not reachable: \(s.processError ?? "?")\n"
            if s.kernel != nil { out += "  (the kernel figures above come from the pinned maps)\n" }
            return out
        }

        // Workers
        out += "\nWORKERS\n" + row(["worker", "selections", "overflowed", "accepted", "active", "tls ok", "tls failed", "req/s"])
        for w in workers {
            let index = w.worker
            let selections = s.kernel.map { String($0.counters.selections(of: index)) } ?? "-"
            let overflowed = s.kernel.map { String($0.counters.overflowed(of: index)) } ?? "-"
            var rate = uptime > 0 ? Double(w.requests) / uptime : 0
            if let interval, let old = previousWorkers.first(where: { $0.worker == index }) {
                rate = Double(w.requests &- old.requests) / interval
            }
            out += row([
                String(index), selections, overflowed, String(w.accepted), String(w.active),
                String(w.tlsHandshakes), String(w.tlsHandshakeFailures), String(format: "%.1f", rate),
            ])
        }

        // Listeners and rules
        for (title, entries, isRules) in [("LISTENERS", process.listeners, false), ("RULES", process.rules, true)] {
            out += "\n\(title)\n" + row(["name", "requests", "2xx", "3xx", "4xx", "5xx", "bytes in", "bytes out", "p50 ms", "p99 ms"])
            for t in entries {
                if isRules, t.requests == 0, t.name == "(no rule)" { continue }
                let status = t.statusClasses + Array(repeating: 0, count: max(0, 5 - t.statusClasses.count))
                out += row([
                    t.name, String(t.requests), String(status[1]), String(status[2]), String(status[3]), String(status[4]),
                    String(t.bytesIn), String(t.bytesOut),
                    String(format: "%.1f", t.latencyP50Milliseconds), String(format: "%.1f", t.latencyP99Milliseconds),
                ])
            }
        }

        // L4 routes
        if !process.l4Routes.isEmpty {
            out += "\nL4 ROUTES (\(process.l4Splice == "kernel" ? "spliced in the kernel" : "copied in userspace: no splice program"))\n"
            out += row(["name", "listener", "conns", "active", "spliced", "fallback", "kernel to member", "kernel to client", "copied"])
            for r in process.l4Routes {
                out += row([
                    r.name, r.listener, String(r.connections), String(r.active), String(r.spliced), String(r.fallbacks),
                    String(r.splicedBytesToMember), String(r.splicedBytesToClient), String(r.copiedBytes),
                ])
            }
        }
        let malformed = workers.reduce(UInt64(0)) { $0 + $1.clientHelloMalformed }
        let helloTimeouts = workers.reduce(UInt64(0)) { $0 + $1.clientHelloTimeouts }
        // Limits
        out += "\nLIMITS  (connections closed at accept, requests answered 429, HTTP/2 streams refused)\n"
        out += row(["worker", "concurrent", "conn/min", "half-open", "req/min", "streams", "sources", "evicted", "untracked"])
        for w in workers {
            let limited = { (reason: LimitReason) in String(w.limited[reason.rawValue] ?? 0) }
            out += row([
                String(w.worker),
                limited(.concurrentConnections), limited(.connectionsPerMinute), limited(.halfOpenHandshakes),
                limited(.requestsPerMinute), limited(.concurrentStreams),
                String(w.limitSources), String(w.limitSourcesEvicted), String(w.limitUntracked),
            ])
        }

        // HTTP/2
        func h2Sum(_ count: KeyPath<ProcessStats.HTTP2, UInt64>) -> UInt64 { workers.reduce(UInt64(0)) { $0 + $1.http2[keyPath: count] } }
        out += "\nHTTP/2  connections \(h2Sum(\.connections)), streams \(h2Sum(\.streams)), "
            + "HTTP/1.1 required \(h2Sum(\.http11Required)), stream-limit closes \(h2Sum(\.streamLimitCloses)), "
            + "header lists rejected \(h2Sum(\.headerListRejections)), rapid-reset closes \(h2Sum(\.rapidResetCloses)), "
            + "malformed \(h2Sum(\.malformedStreams))\n"

        // Members
        out += "\nFARM MEMBERS\n" + row(["farm", "member", "state", "requests", "active", "failures", "last check"])
        for m in process.members {
            let last = [m.lastCheck, m.lastCheckAt].filter { !$0.isEmpty }.joined(separator: " at ")
            out += row([m.farm, m.member, m.state, String(m.requests), String(m.active), String(m.consecutiveFailures), last])
        }

        // TLS
        let handshakes = workers.reduce(UInt64(0)) { $0 + $1.tlsHandshakes }
        let failures = workers.reduce(UInt64(0)) { $0 + $1.tlsHandshakeFailures }
        out += "\nTLS  handshakes \(handshakes), failed \(failures); ClientHello malformed \(malformed), timed out \(helloTimeouts)\n"
        let tickets = process.sessionTickets
        let age = Self.span(tickets.currentKeyAgeSeconds)
        let every = Self.span(tickets.rotateSeconds)
        out += "  session tickets: \(tickets.rotations) key rotations, current key \(age) old (rotate every \(every))\n"
        for t in process.tls {
            let rate = String(format: "%.1f%%", t.resumptionRate * 100)
            out += "  \(t.listener): \(t.handshakes) handshakes, \(t.resumed) resumed (\(rate) resumption)\n"
        }
        for c in process.certificates {
            let warning = c.daysLeft < 30 ? "  WARNING: expires in under 30 days" : ""
            let signer = c.signer.isEmpty ? "" : ", signed by \(c.signer)"
            out += "  \(c.listener): \(c.subject) — \(c.daysLeft) days left\(signer)\(warning)\n"
            switch c.ocsp {
            case "none": break
            case "stapled":
                out += "    OCSP stapled\(c.ocspNextUpdate.isEmpty ? "" : ", next update \(c.ocspNextUpdate)")\n"
            case let reason: out += "    OCSP not stapled: \(reason)\n"
            }
        }
        return out
    }

    /// 90 s, 12.0 min, 11.5 h: a key age at a glance.
    static func span(_ seconds: Double) -> String {
        if seconds < 120 { return String(format: "%.0f s", seconds) }
        if seconds < 7200 { return String(format: "%.1f min", seconds / 60) }
        return String(format: "%.1f h", seconds / 3600)
    }

    private func row(_ cells: [String]) -> String {
        let widths = [18, 24, 10, 10, 10, 10, 12, 12, 8, 8]
        var line = ""
        for (i, cell) in cells.enumerated() {
            let width = i < widths.count ? widths[i] : 10
            line += cell.count >= width ? cell + " " : cell + String(repeating: " ", count: width - cell.count)
        }
        return line.trimmingCharacters(in: .whitespaces) + "\n"
    }

    // MARK: JSON

    func render(json s: Sample) -> String {
        s.jsonText(instance: instance)
    }
}
