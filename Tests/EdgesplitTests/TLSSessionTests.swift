#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// TLS session resumption and OCSP stapling of a real `edgesplit serve`, seen by a real
/// client: `openssl s_client` with `-sess_out`/`-sess_in` (bound to chosen 127.0.0.x sources,
/// so the kernel steering puts them on chosen workers) and `-status`.
final class TLSSessionTests: EdgesplitTestCase {
    /// A TLS listener on a reserved port publishing `app.contoso.test` to `backend`.
    private func serve(
        tag: String, backend: TinyBackend, certificate: String, workers: Int, steering: Bool, tls: String = ""
    ) throws -> (instance: String, port: Int, process: EdgesplitProcess) {
        let instance = uniqueInstance(tag)
        let reservation = try PortReservation()
        defer { reservation.release() }
        let config = try write("\(instance).yaml", """
            instance: \(instance)
            affinity: { ipv4_prefix: 32, ipv6_prefix: 128, seed: 11 }
            listeners:
              - { name: https, address: 127.0.0.1, port: \(reservation.port), tls: { certificates: [ \(certificate) ] } }
            farms:
              - { name: app, members: ["127.0.0.1:\(backend.port)"], persistence: none }
            rules:
              - { name: app, public_names: [app.contoso.test], farm: app }
            \(tls)
            """)
        var arguments = ["serve", "--config", config, "--workers", String(workers)]
        if !steering { arguments.append("--no-bpf") }
        let process = try start(arguments)
        try process.waitForOutput("the server to listen") { _, err in err.contains("edgesplit: serving instance") }
        return (instance, reservation.port, process)
    }

    /// Runs a tool to completion with `input` on its standard input.
    private func tool(_ arguments: [String], input: String = "", timeout: TimeInterval = 20) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        final class Output: @unchecked Sendable { var out = Data(), err = Data() }
        let output = Output()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { output.out = stdout.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { output.err = stderr.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            throw TestFailure("\(arguments.joined(separator: " ")) did not finish in \(timeout) s")
        }
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: output.out, as: UTF8.self), stderr: String(decoding: output.err, as: UTF8.self)
        )
    }

    private func openssl(_ arguments: [String]) throws {
        let result = try tool(["openssl"] + arguments)
        guard result.status == 0 else { throw TestFailure("openssl \(arguments.joined(separator: " ")):\n\(result)") }
    }

    /// One HTTPS request with `openssl s_client`; `from` binds the source address.
    private func sClient(_ port: Int, from source: String = "127.0.0.1", extra: [String]) throws -> String {
        let request = "GET /resume HTTP/1.1\r\nHost: app.contoso.test\r\nConnection: close\r\n\r\n"
        let result = try tool(
            ["openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-bind", "\(source):0", "-servername", "app.contoso.test",
             "-ign_eof"] + extra,
            input: request
        )
        guard result.stdout.contains("ok /resume") else { throw TestFailure("no response through s_client:\n\(result)") }
        return result.stdout
    }

    /// Whether s_client resumed: it prints "Reused, TLSv1.3, …" or "New, TLSv1.3, …".
    private func resumed(_ output: String) throws -> Bool {
        if output.contains("\nReused, ") { return true }
        if output.contains("\nNew, ") { return false }
        throw TestFailure("s_client said neither New nor Reused:\n\(output)")
    }

    private func stats(_ instance: String) throws -> [String: Any] {
        let result = try run(["stats", "--json", "--instance", instance])
        guard result.status == 0 else { throw TestFailure("stats failed: \(result)") }
        let object = try jsonObject(result.stdout)
        guard let process = object["process"] as? [String: Any] else { throw TestFailure("stats without the process: \(result)") }
        return process
    }

    private func rotations(_ instance: String) throws -> Int {
        try XCTUnwrap((try stats(instance)["session_tickets"] as? [String: Any])?["rotations"] as? Int)
    }

    /// Polls the stats until the key has rotated at least `count` times.
    private func waitForRotations(_ instance: String, atLeast count: Int, timeout: TimeInterval = 30) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let now = try rotations(instance)
            if now >= count { return now }
            if Date() > deadline { throw TestFailure("the ticket key rotated \(now) times, not \(count), in \(timeout) s") }
            usleep(200_000)
        }
    }

    func testTicketResumesOnAnotherWorkerWithTheRotatingKeyAndNotAfterTwoRotations() throws {
        try requireRoot()
        let backend = try TinyBackend()
        defer { backend.stop() }
        let pair = try makeCertificate("app")
        let server = try serve(
            tag: "tickets", backend: backend, certificate: "{ cert: \(pair.cert), key: \(pair.key) }", workers: 4, steering: true,
            tls: "tls: { tickets: { rotate: 3s } }"
        )

        // Two sources the kernel steering puts on different workers.
        let sources = (1...20).map { "127.0.3.\($0)" }
        let where_ = try run(["maps", "where", "--json", "--instance", server.instance] + sources)
        XCTAssertEqual(where_.status, 0, "\(where_)")
        var workerOf: [String: Int] = [:]
        for line in where_.stdoutLines {
            let object = try jsonObject(line)
            workerOf[object["client"] as! String] = object["worker"] as? Int
        }
        let a = sources[0]
        let b = try XCTUnwrap(sources.first { workerOf[$0] != nil && workerOf[$0] != workerOf[a] }, "\(workerOf)")

        // A full handshake from A; its ticket resumes from B, on another worker.
        // (A machine stalled for two whole intervals between the two would retire the key:
        // that attempt says nothing and is made again.)
        let ticket = directory + "/a.session"
        var attempts = 0
        while true {
            attempts += 1
            let before = try rotations(server.instance)
            XCTAssertFalse(try resumed(sClient(server.port, from: a, extra: ["-sess_out", ticket])))
            let again = try resumed(sClient(server.port, from: b, extra: ["-sess_in", ticket]))
            if !again, try rotations(server.instance) >= before + 2, attempts < 5 { continue }
            XCTAssertTrue(again, "a ticket from worker \(workerOf[a]!) resumes on worker \(workerOf[b]!)")
            break
        }
        var tls = try XCTUnwrap((try stats(server.instance)["tls"] as? [[String: Any]])?.first)
        XCTAssertEqual(tls["listener"] as? String, "https")
        XCTAssertEqual(tls["handshakes"] as? Int, 2 * attempts)
        XCTAssertEqual(tls["resumed"] as? Int, 1)
        XCTAssertEqual(tls["resumption_rate"] as? Double ?? 0, 1 / Double(2 * attempts), accuracy: 1e-9)
        let workers = try XCTUnwrap(try stats(server.instance)["workers"] as? [[String: Any]])
        XCTAssertEqual(workers.map { $0["tls_resumed"] as? Int ?? -1 }.reduce(0, +), 1, "the workers count the resumed handshake too")

        // A ticket sealed under one key, tried after one rotation (previous key) and after two.
        var sealedUnder = -1
        let fresh = directory + "/fresh.session"
        for attempt in 1... {
            if attempt > 20 { throw TestFailure("every ticket straddled a key rotation") }
            let before = try rotations(server.instance)
            _ = try sClient(server.port, from: a, extra: ["-sess_out", fresh])
            if try rotations(server.instance) == before {
                sealedUnder = before
                break
            }
        }
        _ = try waitForRotations(server.instance, atLeast: sealedUnder + 1)
        let afterOne = try sClient(server.port, from: b, extra: ["-sess_in", fresh])
        if try rotations(server.instance) == sealedUnder + 1 {
            XCTAssertTrue(try resumed(afterOne), "the previous key is still accepted for one interval")
        }
        _ = try waitForRotations(server.instance, atLeast: sealedUnder + 2)
        XCTAssertFalse(
            try resumed(sClient(server.port, from: b, extra: ["-sess_in", fresh])),
            "a ticket from before two rotations is not resumed"
        )

        let process = try stats(server.instance)
        let tickets = try XCTUnwrap(process["session_tickets"] as? [String: Any])
        XCTAssertGreaterThanOrEqual(tickets["rotations"] as? Int ?? 0, sealedUnder + 2)
        XCTAssertEqual(tickets["rotate_seconds"] as? Double, 3)
        XCTAssertNotNil(tickets["current_key_age_seconds"] as? Double)
        tls = try XCTUnwrap((process["tls"] as? [[String: Any]])?.first)
        let handshakes = try XCTUnwrap(tls["handshakes"] as? Int)
        let resumedCount = try XCTUnwrap(tls["resumed"] as? Int)
        XCTAssertGreaterThanOrEqual(handshakes, 5)
        XCTAssertGreaterThanOrEqual(resumedCount, 1)
        XCTAssertEqual(tls["resumption_rate"] as? Double ?? -1, Double(resumedCount) / Double(handshakes), accuracy: 1e-9)

        let text = try run(["stats", "--instance", server.instance])
        XCTAssertTrue(text.stdout.contains("session tickets: "), text.stdout)
        XCTAssertTrue(text.stdout.contains("https: \(handshakes) handshakes, \(resumedCount) resumed"), text.stdout)

        server.process.send(SIGTERM)
        XCTAssertEqual(try server.process.waitForExit().status, 0)
    }

    func testTicketsSurviveAReload() throws {
        try requireRoot()  // the control socket lives in /run/edgesplit
        let backend = try TinyBackend()
        defer { backend.stop() }
        let pair = try makeCertificate("app")
        let server = try serve(
            tag: "ticketreload", backend: backend, certificate: "{ cert: \(pair.cert), key: \(pair.key) }", workers: 2,
            steering: false
        )
        let ticket = directory + "/before.session"
        XCTAssertFalse(try resumed(sClient(server.port, extra: ["-sess_out", ticket])))
        let reload = try run(["reload", "--instance", server.instance])
        XCTAssertEqual(reload.status, 0, "\(reload)")
        XCTAssertTrue(try resumed(sClient(server.port, extra: ["-sess_in", ticket])), "a reload keeps the ticket keys")
        server.process.send(SIGTERM)
        XCTAssertEqual(try server.process.waitForExit().status, 0)
    }

    // MARK: OCSP

    /// A CA, a leaf for app.contoso.test signed by it, and OCSP responses for the leaf
    /// made by `openssl ocsp` with the CA as responder.
    private struct OCSPFixture {
        let cert: String
        let key: String
        /// Responses valid for 1 and 3 days (different nextUpdate).
        let oneDay: String
        let threeDays: String
        /// The responder says the leaf is revoked.
        let revoked: String
    }

    private func makeOCSPFixture() throws -> OCSPFixture {
        let d = directory
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(d)/ca.key",
                     "-out", "\(d)/ca.pem", "-days", "3", "-subj", "/CN=edgesplit test CA"])
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(d)/leaf.key",
                     "-out", "\(d)/leaf.csr", "-subj", "/CN=app.contoso.test"])
        try "subjectAltName=DNS:app.contoso.test\n".write(toFile: "\(d)/leaf.ext", atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", "\(d)/leaf.csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca.key", "-set_serial", "0x5EED",
                     "-days", "2", "-extfile", "\(d)/leaf.ext", "-out", "\(d)/leaf.pem"])
        // The responder's database: the leaf, valid (V), serial 5EED.
        let expiry = "991231235959Z"
        try "V\t\(expiry)\t\t5EED\tunknown\t/CN=app.contoso.test\n".write(toFile: "\(d)/index.txt", atomically: true, encoding: .utf8)
        try "R\t\(expiry)\t201121000000Z\t5EED\tunknown\t/CN=app.contoso.test\n"
            .write(toFile: "\(d)/revoked.txt", atomically: true, encoding: .utf8)
        try openssl(["ocsp", "-issuer", "\(d)/ca.pem", "-cert", "\(d)/leaf.pem", "-no_nonce", "-reqout", "\(d)/req.der"])
        for (name, index, days) in [("ocsp-1d", "index", 1), ("ocsp-3d", "index", 3), ("ocsp-revoked", "revoked", 1)] {
            try openssl(["ocsp", "-index", "\(d)/\(index).txt", "-rsigner", "\(d)/ca.pem", "-rkey", "\(d)/ca.key", "-CA", "\(d)/ca.pem",
                         "-reqin", "\(d)/req.der", "-respout", "\(d)/\(name).der", "-ndays", String(days)])
        }
        return OCSPFixture(
            cert: "\(d)/leaf.pem", key: "\(d)/leaf.key", oneDay: "\(d)/ocsp-1d.der", threeDays: "\(d)/ocsp-3d.der",
            revoked: "\(d)/ocsp-revoked.der"
        )
    }

    /// The "Next Update" line of the staple s_client printed, or nil when none was sent.
    private func stapledNextUpdate(_ port: Int) throws -> String? {
        let output = try sClient(port, extra: ["-status"])
        if output.contains("OCSP response: no response sent") { return nil }
        guard output.contains("OCSP Response Status: successful"),
            let line = output.split(separator: "\n").first(where: { $0.contains("Next Update:") })
        else { throw TestFailure("s_client -status printed no OCSP verdict:\n\(output)") }
        return line.trimmingCharacters(in: .whitespaces)
    }

    /// Replaces `path` the way deployment tools do: a new file renamed over the old one.
    private func replace(_ path: String, with bytes: Data) throws {
        try bytes.write(to: URL(fileURLWithPath: path + ".new"))
        guard rename(path + ".new", path) == 0 else { throw TestFailure("rename: errno \(errno)") }
    }

    private func waitForStaple(_ port: Int, timeout: TimeInterval = 15, until: (String?) -> Bool) throws -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let seen = try stapledNextUpdate(port)
            if until(seen) { return seen }
            if Date() > deadline { throw TestFailure("the staple did not change in \(timeout) s (still \(seen ?? "none"))") }
            usleep(250_000)
        }
    }

    /// `check` explains why a response would not be stapled: revoked, or about another
    /// certificate (a self-signed one with a different serial number).
    func testCheckRejectsARevokedResponseAndOneForAnotherCertificate() throws {
        let fixture = try makeOCSPFixture()
        let other = try makeCertificate("other")
        for (cert, key, ocsp, expected) in [
            (fixture.cert, fixture.key, fixture.revoked, "the response says this certificate is revoked"),
            (other.cert, other.key, fixture.oneDay, "the response is not about this certificate (serial "),
        ] {
            let path = try write("check.yaml", """
                listeners:
                  - { name: https, address: 127.0.0.1, port: 8443, tls: { certificates: [ { cert: \(cert), key: \(key), ocsp: \(ocsp) } ] } }
                farms:
                  - { name: app, members: ["127.0.0.1:9000"] }
                rules:
                  - { name: app, public_names: [app.contoso.test], farm: app }
                """)
            let result = try run(["check", "--config", path])
            XCTAssertEqual(result.status, 0, "\(result)")
            XCTAssertTrue(result.stderr.contains("warning: ocsp: '\(ocsp)': \(expected)"), "\(result)")
        }
    }

    func testOCSPStapleIsServedAndFollowsItsFile() throws {
        try requireRoot()  // the control socket lives in /run/edgesplit
        let fixture = try makeOCSPFixture()
        let staple = directory + "/staple.der"
        try replace(staple, with: try Data(contentsOf: URL(fileURLWithPath: fixture.oneDay)))
        let backend = try TinyBackend()
        defer { backend.stop() }
        let server = try serve(
            tag: "ocsp", backend: backend, certificate: "{ cert: \(fixture.cert), key: \(fixture.key), ocsp: \(staple) }",
            workers: 2, steering: false
        )

        let first = try XCTUnwrap(try stapledNextUpdate(server.port), "the configured response is stapled")
        var certificate = try XCTUnwrap((try stats(server.instance)["certificates"] as? [[String: Any]])?.first)
        XCTAssertEqual(certificate["ocsp"] as? String, "stapled")
        XCTAssertFalse((certificate["ocsp_next_update"] as? String ?? "").isEmpty)

        // A fresh response replaces the file: later handshakes staple it, without a reload.
        try replace(staple, with: try Data(contentsOf: URL(fileURLWithPath: fixture.threeDays)))
        let second = try waitForStaple(server.port) { $0 != nil && $0 != first }
        XCTAssertNotNil(second)

        // A broken file: a clear error, and no staple rather than a bad one.
        try replace(staple, with: Data("not an OCSP response".utf8))
        XCTAssertNil(try waitForStaple(server.port) { $0 == nil })
        certificate = try XCTUnwrap((try stats(server.instance)["certificates"] as? [[String: Any]])?.first)
        let reason = certificate["ocsp"] as? String ?? ""
        XCTAssertTrue(reason.contains("not a DER OCSP response"), reason)
        let text = try run(["stats", "--instance", server.instance])
        XCTAssertTrue(text.stdout.contains("OCSP not stapled: '\(staple)': not a DER OCSP response"), text.stdout)

        server.process.send(SIGTERM)
        let exit = try server.process.waitForExit()
        XCTAssertEqual(exit.status, 0)
        XCTAssertTrue(exit.stderr.contains("OCSP staple dropped"), exit.stderr)
    }
}
