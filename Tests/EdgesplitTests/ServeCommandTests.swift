#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// `edgesplit serve`: refuses an invalid configuration before binding, warns once when
/// affinity is off, and on SIGTERM stops accepting but finishes what is in flight.
final class ServeCommandTests: EdgesplitTestCase {
    func testInvalidConfigurationIsRefusedBeforeBinding() throws {
        // Someone else listens on the port (without SO_REUSEPORT): if serve tried to bind
        // before validating, it would report "address already in use" instead.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        XCTAssertEqual(Loopback.bind(holder, "127.0.0.1", port: 0), 0)
        XCTAssertEqual(listen(holder, 1), 0)
        let port = Loopback.localPort(holder)
        let path = try write("bad.yaml", """
            instance: \(uniqueInstance("refused"))
            listeners:
              - { name: web, address: 127.0.0.1, port: \(port) }
            farms:
              - { name: app, members: ["127.0.0.1:9"] }
            rules:
              - { name: app, public_names: [app.contoso.test], farm: nosuch }
            """)
        let check = try run(["check", "--config", path])
        let serve = try run(["serve", "--config", path, "--workers", "2"])
        XCTAssertEqual(serve.status, 1, "\(serve)")
        XCTAssertEqual(check.status, 1)
        XCTAssertEqual(serve.stderr, check.stderr, "serve prints what check prints")
        XCTAssertEqual(serve.stderrLines, ["\(path):7:58: error: rules[0].farm: unknown farm 'nosuch' (farms are: app)"])
        XCTAssertEqual(serve.stdout, "")
        XCTAssertFalse(serve.stderr.contains("address already in use"))
    }

    func testSIGTERMFinishesTheRequestInFlightAndRefusesNewConnections() throws {
        try requireRoot()
        let backend = try TinyBackend(slowDelay: 1.5)
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "drain", backend: backend, workers: 2, shutdown: "10s")
        XCTAssertEqual(try server.get("/warm-up").status, 200)

        let slow = SlowRequest(server: server)
        let deadline = Date().addingTimeInterval(5)
        while backend.requestCount < 2 && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(backend.requestCount, 2, "the slow request reached the backend")
        let sentAt = Date()
        server.process.send(SIGTERM)
        try server.process.waitForOutput("the drain to start") { _, err in err.contains("SIGTERM received") }

        // While the slow request is still running, new connections are refused.
        var refused = false
        while !refused && Date().timeIntervalSince(sentAt) < 1.0 {
            switch Loopback.connect(from: "127.0.1.201", port: server.port, timeout: 1) {
            case .failure(let e) where e.code == .ECONNREFUSED: refused = true
            case .failure(let e): XCTFail("connect failed with \(e.code), expected ECONNREFUSED")
            case .success(let fd): close(fd); usleep(20_000)
            }
        }
        XCTAssertTrue(refused, "a new connection during the drain is refused")
        XCTAssertFalse(slow.isFinished, "the check ran while the slow request was in flight")

        let reply = try slow.wait()
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(reply.body, "ok /slow\n")
        let exit = try server.process.waitForExit()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertTrue(exit.stderr.contains("edgesplit: stopped"), exit.stderr)
        XCTAssertFalse(InstancePins.exists(server.instance))
        let records = try server.accessLog()
        XCTAssertEqual(records.compactMap { $0["cs-uri-stem"] as? String }.sorted(), ["/slow", "/warm-up"])
    }

    func testSIGTERMClosesIdleKeepAliveConnectionsAtOnce() throws {
        let backend = try TinyBackend()
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "idle", backend: backend, workers: 2, kernelSteering: false, shutdown: "20s")
        guard case .success(let fd) = Loopback.connect(from: "127.0.1.30", port: server.port, timeout: 10) else {
            return XCTFail("connect failed")
        }
        defer { close(fd) }
        // One exchange on a keep-alive connection, which then stays open and idle.
        XCTAssertTrue(Loopback.writeAll(fd, "GET /keep HTTP/1.1\r\nHost: \(ServedInstance.publicName)\r\n\r\n"))
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: received, as: UTF8.self).hasSuffix("ok /keep\n") {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return XCTFail("connection ended before the response: \(String(decoding: received, as: UTF8.self))") }
            received.append(contentsOf: chunk[0..<n])
        }
        XCTAssertTrue(String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1 200"))

        let sentAt = Date()
        server.process.send(SIGTERM)
        let exit = try server.process.waitForExit()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertLessThan(Date().timeIntervalSince(sentAt), 5, "an idle connection does not hold the 20 s drain")
        XCTAssertEqual(Loopback.readToEnd(fd), [], "the idle connection was closed without another byte")
    }

    func testShutdownTimeoutCutsARequestThatRunsLonger() throws {
        try requireRoot()
        let backend = try TinyBackend(slowDelay: 4)
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "cut", backend: backend, workers: 2, shutdown: "500ms")
        let slow = SlowRequest(server: server)
        let deadline = Date().addingTimeInterval(5)
        while backend.requestCount < 1 && Date() < deadline { usleep(10_000) }
        let sentAt = Date()
        server.process.send(SIGTERM)
        let exit = try server.process.waitForExit()
        let took = Date().timeIntervalSince(sentAt)
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertGreaterThanOrEqual(took, 0.4, "it waited for the request")
        XCTAssertLessThan(took, 2.5, "it stopped waiting after timeouts.shutdown (500ms)")
        XCTAssertThrowsError(try slow.wait(), "the cut request gets no response")
        XCTAssertFalse(InstancePins.exists(server.instance))
    }

    func testABusyPortIsAnErrorAndLeavesNoPins() throws {
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        XCTAssertEqual(Loopback.bind(holder, "127.0.0.1", port: 0), 0)
        XCTAssertEqual(listen(holder, 1), 0)
        let port = Loopback.localPort(holder)
        let instance = uniqueInstance("busy")
        let path = try write("busy.yaml", """
            instance: \(instance)
            listeners:
              - { name: web, address: 127.0.0.1, port: \(port) }
            farms:
              - { name: app, members: ["127.0.0.1:9"] }
            rules:
              - { name: app, public_names: [app.contoso.test], farm: app }
            """)
        let result = try run(["serve", "--config", path, "--workers", "2"])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertEqual(result.stderrLines.last, "edgesplit: error: cannot listen on 127.0.0.1:\(port): address already in use")
        XCTAssertFalse(InstancePins.exists(instance))
    }

    func testTLSListenerWithCertificateFilesAnswersCurl() throws {
        let backend = try TinyBackend()
        defer { backend.stop() }
        let pair = try makeCertificate("web")
        let reservation = try PortReservation()
        let instance = uniqueInstance("tls")
        let path = try write("tls.yaml", """
            instance: \(instance)
            listeners:
              - name: web
                address: 127.0.0.1
                port: \(reservation.port)
                tls: { certificates: [ { cert: \(pair.cert), key: \(pair.key) } ], min_version: "1.3" }
            farms:
              - { name: app, members: ["127.0.0.1:\(backend.port)"] }
            rules:
              - { name: app, public_names: [app.contoso.test], farm: app }
            """)
        let server = try start(["serve", "--config", path, "--workers", "2", "--no-bpf"])
        try server.waitForOutput("the server to listen") { _, err in err.contains("edgesplit: serving instance") }
        reservation.release()

        func curl(_ name: String, _ extra: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments = ["-sS", "--max-time", "10", "--resolve", "\(name):\(reservation.port):127.0.0.1",
                                 "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}"] + extra
                + ["https://\(name):\(reservation.port)/tls"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return output
        }
        // Verified against the file's certificate, with TLS 1.3 (min_version).
        XCTAssertEqual(try curl("app.contoso.test", ["--cacert", pair.cert, "--tlsv1.3"]), "200 0")
        // TLS 1.2 is below min_version: no handshake, no HTTP status.
        XCTAssertEqual(try curl("app.contoso.test", ["--cacert", pair.cert, "--tls-max", "1.2"]).prefix(3), "000")
        // A name no rule publishes: edgesplit's own 404.
        XCTAssertEqual(try curl("other.contoso.test", ["-k"]).prefix(3), "404")
        server.send(SIGTERM)
        XCTAssertEqual(try server.waitForExit().status, 0)
        XCTAssertEqual(backend.requestCount, 1)
    }

    func testNoBPFWarnsOnceAndServes() throws {
        let backend = try TinyBackend()
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "nobpf", backend: backend, workers: 2, kernelSteering: false)
        for i in 1...4 {
            XCTAssertEqual(try server.get("/plain", from: "127.0.1.\(i)").status, 200)
        }
        let warnings = server.stderr.split(separator: "\n").filter { $0.contains("warning") }
        XCTAssertEqual(warnings.count, 1, server.stderr)
        XCTAssertTrue(warnings.first?.hasPrefix("edgesplit: warning: client affinity is off") ?? false, server.stderr)
        XCTAssertFalse(InstancePins.exists(server.instance), "--no-bpf pins nothing")
        let exit = try server.stop()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertEqual(try server.accessLog().count, 4)
    }

    func testASecondServerTakesTheInstanceOverAndKeepsItsPins() throws {
        try requireRoot()
        let backend = try TinyBackend()
        defer { backend.stop() }
        let first = try ServedInstance(self, tag: "reload", backend: backend, workers: 2)
        XCTAssertEqual(try first.get("/first", from: "127.0.1.50").status, 200)
        // The second process joins the reuseport group and puts its sockets in the slots.
        let second = try first.startAnother()
        XCTAssertEqual(try first.get("/both", from: "127.0.1.51").status, 200)

        first.process.send(SIGTERM)
        let firstExit = try first.process.waitForExit()
        XCTAssertEqual(firstExit.status, 0, "\(firstExit)")
        // The instance still runs in the second process: its pins stay, and it serves.
        XCTAssertTrue(InstancePins.exists(first.instance), "the first server's exit removed the pins of the running second one")
        let status = try first.cli(["bpf", "status", "--json"])
        XCTAssertEqual(status.status, 0, "\(status)")
        XCTAssertEqual(try jsonObject(status.stdout)["filled_slots"] as? [Int], [0, 1])
        XCTAssertEqual(try first.get("/second", from: "127.0.1.52").status, 200)

        second.send(SIGTERM)
        let secondExit = try second.waitForExit()
        XCTAssertEqual(secondExit.status, 0, "\(secondExit)")
        XCTAssertFalse(InstancePins.exists(first.instance), "the last server's exit removes the pins")
    }

    func testTooManyListenerGroupsForSteeringWarnsAndLeavesNoPins() throws {
        try requireRoot()
        // The steering program takes 16 listener groups; the 17th cannot be attached.
        let reservations = try (0..<17).map { _ in try PortReservation() }
        let instance = uniqueInstance("groups")
        let listeners = reservations.enumerated()
            .map { "  - { name: l\($0.offset), address: 127.0.0.1, port: \($0.element.port) }" }
            .joined(separator: "\n")
        let path = try write("groups.yaml", """
            instance: \(instance)
            listeners:
            \(listeners)
            farms:
              - { name: app, members: ["127.0.0.1:9"] }
            rules:
              - { name: app, public_names: [app.contoso.test], farm: app }
            """)
        let server = try start(["serve", "--config", path, "--workers", "1"])
        let (_, err) = try server.waitForOutput("the server to listen") { _, err in err.contains("edgesplit: serving instance") }
        reservations.forEach { $0.release() }
        let warnings = err.split(separator: "\n").filter { $0.contains("warning") }
        XCTAssertEqual(warnings, ["edgesplit: warning: client affinity is off: too many listener groups: at most 16 per instance; the kernel's reuseport hash spreads connections over workers steering=off"])
        XCTAssertFalse(InstancePins.exists(instance), "a program that could not be attached leaves no pins")
        server.send(SIGTERM)
        XCTAssertEqual(try server.waitForExit().status, 0)
    }

    func testWithoutPrivilegeItWarnsOnceAndServes() throws {
        // As a normal user the steering program cannot load: one warning that says why.
        let backend = try TinyBackend()
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "user", backend: backend, workers: 2, unprivileged: true)
        for i in 1...4 {
            XCTAssertEqual(try server.get("/user", from: "127.0.1.\(i)").status, 200)
        }
        let warnings = server.stderr.split(separator: "\n").filter { $0.contains("warning") }
        XCTAssertEqual(warnings.count, 1, server.stderr)
        XCTAssertTrue(warnings.first?.hasPrefix("edgesplit: warning: client affinity is off: ") ?? false, server.stderr)
        XCTAssertTrue(warnings.first?.contains("(run as root or with CAP_BPF)") ?? false, server.stderr)
        let exit = try server.stop()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertEqual(try server.accessLog().count, 4)
    }

    func testKernelSteeringPrintsNoWarning() throws {
        try requireRoot()
        let backend = try TinyBackend()
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "bpf", backend: backend, workers: 2)
        XCTAssertEqual(try server.get().status, 200)
        XCTAssertTrue(InstancePins.exists(server.instance))
        let exit = try server.stop()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertFalse(exit.stderr.contains("warning"), exit.stderr)
        XCTAssertFalse(InstancePins.exists(server.instance))
    }
}

/// A GET of `/slow` on its own thread, so the test can signal the server meanwhile.
private final class SlowRequest: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var result: Result<HTTPReply, Error>?

    init(server: ServedInstance) {
        let port = server.port
        Thread {
            let outcome = Result { try HTTPClient.get("/slow", host: ServedInstance.publicName, port: port, from: "127.0.1.200", timeout: 15) }
            self.lock.withLock { self.result = outcome }
            self.done.signal()
        }.start()
    }

    var isFinished: Bool { lock.withLock { result != nil } }

    func wait(timeout: TimeInterval = 15) throws -> HTTPReply {
        guard done.wait(timeout: .now() + timeout) == .success else { throw TestFailure("the slow request did not finish") }
        return try lock.withLock { result! }.get()
    }
}
