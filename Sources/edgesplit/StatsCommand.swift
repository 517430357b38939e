#if canImport(Glibc)
import Admin
import Glibc
#endif
import Affinity
import ArgumentParser
import Foundation
import Proxy
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
                ControlClient.printJSON(report.json)
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
            fflush(stdout)
            previous = sample
            usleep(useconds_t(interval * 1_000_000))
        }
    }

    typealias Sample = StatsDocument

    func collect() -> Sample {
        var sample = Sample()
        sample.readKernel(instance: instance, pinRoot: pinRoot)
        do {
            let target = try FarmCommand.Target.parse(["--instance", instance, "--control-directory", controlDirectory])
            sample.process = try ControlClient.call(["command": "stats"], target: target)
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
            do {
                return MergedStats.Input(host: name, stats: try ControlConnection(path: path).call(["command": "stats"]))
            } catch {
                return MergedStats.Input(host: name, stats: ["running": false, "process": NSNull(), "process_error": "\(error)"])
            }
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ControlClientError(message: "\(path): neither a control socket nor a readable stats file")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ControlClientError(message: "\(path): not the JSON of `edgesplit stats --json`")
        }
        return MergedStats.Input(host: name, stats: object)
    }

    // MARK: Text

    func render(text s: Sample, previous: Sample?, interval: Double?) -> String {
        var out = "edgesplit stats — instance \(instance) — \(ISO8601DateFormatter().string(from: s.time))\n"
        if let digest = s.process?["config_digest"] as? String { out += "configuration sha256 \(digest)\n" }
        out += "\n"
        let workersJSON = s.process?["workers"] as? [[String: Any]] ?? []
        let previousWorkers = previous?.process?["workers"] as? [[String: Any]] ?? []
        let uptime = s.process?["uptime_seconds"] as? Double ?? 0

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
        if s.process == nil {
            out += "\nPROCESS  not reachable: \(s.processError ?? "?")\n"
            if s.kernel != nil { out += "  (the kernel figures above come from the pinned maps)\n" }
            return out
        }

        // Workers
        out += "\nWORKERS\n" + row(["worker", "selections", "overflowed", "accepted", "active", "tls ok", "tls failed", "req/s"])
        for (i, w) in workersJSON.enumerated() {
            let index = w["worker"] as? Int ?? i
            let selections = s.kernel.map { String($0.counters.selections(of: index)) } ?? "-"
            let overflowed = s.kernel.map { String($0.counters.overflowed(of: index)) } ?? "-"
            let requests = uint(w["requests"])
            var rate = uptime > 0 ? Double(requests) / uptime : 0
            if let interval, let old = previousWorkers.first(where: { ($0["worker"] as? Int) == index }) {
                rate = Double(requests &- uint(old["requests"])) / interval
            }
            out += row([
                String(index), selections, overflowed, String(uint(w["accepted"])), String(w["active"] as? Int ?? 0),
                String(uint(w["tls_handshakes"])), String(uint(w["tls_handshake_failures"])), String(format: "%.1f", rate),
            ])
        }

        // Listeners and rules
        for (title, key) in [("LISTENERS", "listeners"), ("RULES", "rules")] {
            out += "\n\(title)\n" + row(["name", "requests", "2xx", "3xx", "4xx", "5xx", "bytes in", "bytes out", "p50 ms", "p99 ms"])
            for t in s.process?[key] as? [[String: Any]] ?? [] {
                if key == "rules", uint(t["requests"]) == 0, (t["name"] as? String) == "(no rule)" { continue }
                out += row([
                    t["name"] as? String ?? "?", String(uint(t["requests"])), String(uint(t["status_2xx"])),
                    String(uint(t["status_3xx"])), String(uint(t["status_4xx"])), String(uint(t["status_5xx"])),
                    String(uint(t["bytes_in"])), String(uint(t["bytes_out"])),
                    String(format: "%.1f", t["latency_p50_ms"] as? Double ?? 0),
                    String(format: "%.1f", t["latency_p99_ms"] as? Double ?? 0),
                ])
            }
        }

        // L4 routes
        let routes = s.process?["l4_routes"] as? [[String: Any]] ?? []
        if !routes.isEmpty {
            let path = s.process?["l4_splice"] as? String ?? "?"
            out += "\nL4 ROUTES (\(path == "kernel" ? "spliced in the kernel" : "copied in userspace: no splice program"))\n"
            out += row(["name", "listener", "conns", "active", "spliced", "fallback", "kernel to member", "kernel to client", "copied"])
            for r in routes {
                out += row([
                    r["name"] as? String ?? "?", r["listener"] as? String ?? "?", String(uint(r["connections"])),
                    String(uint(r["active"])), String(uint(r["spliced"])), String(uint(r["fallbacks"])),
                    String(uint(r["spliced_bytes_to_member"])), String(uint(r["spliced_bytes_to_client"])),
                    String(uint(r["copied_bytes"])),
                ])
            }
        }
        let malformed = workersJSON.reduce(UInt64(0)) { $0 + uint($1["client_hello_malformed"]) }
        let helloTimeouts = workersJSON.reduce(UInt64(0)) { $0 + uint($1["client_hello_timeouts"]) }
        // Limits
        out += "\nLIMITS  (connections closed at accept, requests answered 429, HTTP/2 streams refused)\n"
        out += row(["worker", "concurrent", "conn/min", "half-open", "req/min", "streams", "sources", "evicted", "untracked"])
        for (i, w) in workersJSON.enumerated() {
            let limited = w["limited"] as? [String: Any] ?? [:]
            out += row([
                String(w["worker"] as? Int ?? i),
                String(uint(limited["concurrent_connections"])), String(uint(limited["connections_per_minute"])),
                String(uint(limited["half_open_handshakes"])), String(uint(limited["requests_per_minute"])),
                String(uint(limited["concurrent_streams"])),
                String(uint(w["limit_sources"])), String(uint(w["limit_sources_evicted"])), String(uint(w["limit_untracked"])),
            ])
        }

        // HTTP/2
        let h2 = workersJSON.compactMap { $0["http2"] as? [String: Any] }
        func h2Sum(_ key: String) -> UInt64 { h2.reduce(UInt64(0)) { $0 + uint($1[key]) } }
        out += "\nHTTP/2  connections \(h2Sum("connections")), streams \(h2Sum("streams")), "
            + "HTTP/1.1 required \(h2Sum("http11_required")), stream-limit closes \(h2Sum("stream_limit_closes")), "
            + "header lists rejected \(h2Sum("header_list_rejections")), rapid-reset closes \(h2Sum("rapid_reset_closes")), "
            + "malformed \(h2Sum("malformed_streams"))\n"

        // Members
        out += "\nFARM MEMBERS\n" + row(["farm", "member", "state", "requests", "active", "failures", "last check"])
        for m in s.process?["members"] as? [[String: Any]] ?? [] {
            let last = [m["last_check"] as? String ?? "", m["last_check_at"] as? String ?? ""].filter { !$0.isEmpty }.joined(separator: " at ")
            out += row([
                m["farm"] as? String ?? "?", m["member"] as? String ?? "?", m["state"] as? String ?? "?",
                String(uint(m["requests"])), String(m["active"] as? Int ?? 0), String(m["consecutive_failures"] as? Int ?? 0), last,
            ])
        }

        // TLS
        let handshakes = workersJSON.reduce(UInt64(0)) { $0 + uint($1["tls_handshakes"]) }
        let failures = workersJSON.reduce(UInt64(0)) { $0 + uint($1["tls_handshake_failures"]) }
        out += "\nTLS  handshakes \(handshakes), failed \(failures); ClientHello malformed \(malformed), timed out \(helloTimeouts)\n"
        if let tickets = s.process?["session_tickets"] as? [String: Any] {
            let age = Self.span(tickets["current_key_age_seconds"] as? Double ?? 0)
            let every = Self.span(tickets["rotate_seconds"] as? Double ?? 0)
            out += "  session tickets: \(uint(tickets["rotations"])) key rotations, current key \(age) old (rotate every \(every))\n"
        }
        for t in s.process?["tls"] as? [[String: Any]] ?? [] {
            let rate = String(format: "%.1f%%", (t["resumption_rate"] as? Double ?? 0) * 100)
            out += "  \(t["listener"] as? String ?? "?"): \(uint(t["handshakes"])) handshakes, \(uint(t["resumed"])) resumed (\(rate) resumption)\n"
        }
        for c in s.process?["certificates"] as? [[String: Any]] ?? [] {
            let days = c["days_left"] as? Int ?? 0
            let warning = days < 30 ? "  WARNING: expires in under 30 days" : ""
            let signer = (c["signer"] as? String).map { ", signed by \($0)" } ?? ""
            out += "  \(c["listener"] as? String ?? "?"): \(c["subject"] as? String ?? "?") — \(days) days left\(signer)\(warning)\n"
            switch c["ocsp"] as? String ?? "none" {
            case "none": break
            case "stapled":
                let next = c["ocsp_next_update"] as? String ?? ""
                out += "    OCSP stapled\(next.isEmpty ? "" : ", next update \(next)")\n"
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

    private func uint(_ value: Any?) -> UInt64 {
        if let v = value as? UInt64 { return v }
        if let v = value as? Int { return UInt64(max(0, v)) }
        if let v = value as? Double { return UInt64(max(0, v)) }
        if let v = value as? NSNumber { return v.uint64Value }
        return 0
    }

    // MARK: JSON

    func render(json s: Sample) -> String {
        s.jsonText(instance: instance)
    }
}
