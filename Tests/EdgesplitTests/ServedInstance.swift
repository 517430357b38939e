#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// A running `edgesplit serve` on 127.0.0.1 with one plain-HTTP listener publishing
/// `app.contoso.test` to a `TinyBackend`, writing a JSON access log; plus the CLI calls the
/// tests make against its instance.
final class ServedInstance {
    static let publicName = "app.contoso.test"

    let test: EdgesplitTestCase
    let instance: String
    let port: Int
    let configPath: String
    let accessLogPath: String
    let process: EdgesplitProcess
    let arguments: [String]

    /// Starts the server and waits until it serves. `shutdown` is `timeouts.shutdown`;
    /// `extraConfig` is added at the top level of the configuration; `logging` are
    /// `--log-level`/`--log-format` arguments (at a level above notice no "serving instance"
    /// line is logged, and readiness is a first answered request instead).
    init(
        _ test: EdgesplitTestCase, tag: String, backend: TinyBackend, workers: Int = 4,
        kernelSteering: Bool = true, shutdown: String = "10s", unprivileged: Bool = false, extraConfig: String = "",
        affinity: String = "{ ipv4_prefix: 32, ipv6_prefix: 128, seed: 7 }", logging: [String] = []
    ) throws {
        self.test = test
        instance = test.uniqueInstance(tag)
        let reservation = try PortReservation()
        defer { reservation.release() }
        port = reservation.port
        accessLogPath = test.directory + "/access-\(instance).log"
        configPath = try test.write("\(instance).yaml", """
            instance: \(instance)
            affinity: \(affinity)
            access_log: { path: \(accessLogPath), format: json }
            listeners:
              - { name: web, address: 127.0.0.1, port: \(port) }
            farms:
              - { name: app, members: ["127.0.0.1:\(backend.port)"], persistence: none }
            rules:
              - { name: app, public_names: [\(Self.publicName)], farm: app }
            timeouts: { shutdown: \(shutdown) }
            \(extraConfig)
            """)
        var arguments = ["serve", "--config", configPath, "--workers", String(workers)] + logging
        if !kernelSteering { arguments.append("--no-bpf") }
        self.arguments = arguments
        process = try test.start(arguments, unprivileged: unprivileged)
        let quiet = ["warning", "error", "critical"].contains { logging.contains($0) }
        if quiet {
            try waitForFirstAnswer()
        } else {
            try process.waitForOutput("the server to listen") { _, err in err.contains("serving instance '") }
        }
    }

    /// Retries a GET until the server answers it.
    private func waitForFirstAnswer(timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let reply = try? get("/ready", timeout: 2), reply.status == 200 { return }
            if !process.isRunning || Date() > deadline {
                throw TestFailure("edgesplit \(arguments.joined(separator: " ")) never answered\n--- stderr ---\n\(process.stderr)")
            }
            usleep(50_000)
        }
    }

    /// A second server with the same configuration (same instance, same port): it joins the
    /// listener group the way a reload does.
    func startAnother() throws -> EdgesplitProcess {
        let process = try test.start(arguments)
        try process.waitForOutput("the second server to listen") { _, err in err.contains("edgesplit: serving instance") }
        return process
    }

    var stderr: String { process.stderr }

    /// One GET on a new connection from `source`.
    func get(_ path: String = "/", from source: String? = nil, timeout: Double = 10) throws -> HTTPReply {
        try HTTPClient.get(path, host: Self.publicName, port: port, from: source, timeout: timeout)
    }

    /// The access log records so far (workers flush about once a second).
    func accessLog() throws -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: accessLogPath, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw TestFailure("access log line is not a JSON object: \(line)")
            }
            return object
        }
    }

    /// Waits until the access log holds at least `count` records.
    func waitForAccessLog(count: Int, timeout: TimeInterval = 10) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let records = try accessLog()
            if records.count >= count { return records }
            if Date() > deadline { throw TestFailure("access log has \(records.count) of \(count) records") }
            usleep(100_000)
        }
    }

    /// `edgesplit <command…> --instance <this instance> <extra…>`.
    func cli(_ command: [String], _ extra: [String] = []) throws -> CommandResult {
        try test.run(command + ["--instance", instance] + extra)
    }

    /// `edgesplit maps where --json` for every source at once: the worker of each.
    func workers(of sources: [String]) throws -> [String: Int] {
        let result = try cli(["maps", "where", "--json"], sources)
        guard result.status == 0 else { throw TestFailure("maps where failed: \(result)") }
        var workers: [String: Int] = [:]
        for line in result.stdoutLines {
            let object = try test.jsonObject(line)
            guard let client = object["client"] as? String, let worker = object["worker"] as? Int else {
                throw TestFailure("maps where --json line without client/worker: \(line)")
            }
            workers[client] = worker
        }
        guard workers.count == sources.count else { throw TestFailure("maps where answered \(workers.count) of \(sources.count)") }
        return workers
    }

    /// SIGTERM, then the exit.
    func stop(timeout: TimeInterval = 20) throws -> CommandResult {
        process.send(SIGTERM)
        return try process.waitForExit(timeout: timeout)
    }
}

extension Array where Element == [String: Any] {
    /// Access-log records grouped by client address: the workers each client's requests ran on.
    func workersByClient() -> [String: [Int]] {
        var result: [String: [Int]] = [:]
        for record in self {
            guard let client = record["c-ip"] as? String, let worker = record["worker"] as? Int else { continue }
            result[client, default: []].append(worker)
        }
        return result
    }
}
