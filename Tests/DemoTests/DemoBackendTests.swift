import Foundation
import NIOCore
import NIOPosix
import XCTest

@testable import Demo

/// A demo backend over real sockets on 127.0.0.1, in plain HTTP and in TLS.
final class DemoBackendTests: XCTestCase {
    let group = MultiThreadedEventLoopGroup.singleton

    /// Runs `body` with a started backend and stops the backend afterwards, even on failure.
    func withBackend(
        name: String = "pool-fe1",
        tls: IssuedCertificate? = nil,
        _ body: (DemoBackend) async throws -> Void
    ) async throws {
        let backend = try await DemoBackend.start(name: name, tls: tls, on: group)
        do {
            try await body(backend)
        } catch {
            try? await backend.stop()
            throw error
        }
        try await backend.stop()
    }

    func testPlainBackendAnswersEveryRoute() async throws {
        try await withBackend(name: "pool-fe1") { backend in
            XCTAssertFalse(backend.usesTLS)
            XCTAssertGreaterThan(backend.port, 0)
            XCTAssertEqual(backend.address, "127.0.0.1:\(backend.port)")

            try await RawHTTPConnection.with(port: backend.port) { connection in
                try await self.exerciseRoutes(&connection, backend: backend)
            }
            XCTAssertEqual(backend.connectionsAccepted, 1, "every route answered on one kept-alive connection")
        }
    }

    func testTLSBackendAnswersEveryRoute() async throws {
        let ca = try CertificateAuthority.make(commonName: "Contoso Internal Root CA")
        let certificate = try ca.issue(commonName: "pool.contoso.test", dnsNames: ["pool.contoso.test"])
        try await withBackend(name: "pool-fe2", tls: certificate) { backend in
            XCTAssertTrue(backend.usesTLS)

            let tls = try RawHTTPConnection.TLS(trusting: ca.root.certificatePEM, serverName: "pool.contoso.test")
            try await RawHTTPConnection.with(port: backend.port, tls: tls) { connection in
                try await self.exerciseRoutes(&connection, backend: backend)
            }
        }
    }

    /// Meet, dial-in, Address Book 401, autodiscover, a one-second long poll and a 404, in order on one connection.
    private func exerciseRoutes(_ connection: inout RawHTTPConnection, backend: DemoBackend) async throws {
        let scheme = backend.usesTLS ? "HTTPS" : "HTTP"

        try await connection.request("/health")
        let health = try await connection.readResponse()
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.body, "OK")
        XCTAssertEqual(health.values("X-Demo-Member"), [backend.name])

        try await connection.request("/Meet/alice/F3K9Q2ZT?sl=1", host: "webext.contoso.test:443")
        let meet = try await connection.readResponse()
        XCTAssertEqual(meet.status, 200)
        XCTAssertEqual(meet.first("Content-Type"), "text/html; charset=utf-8")
        XCTAssertTrue(meet.body.contains("Join meeting"))
        XCTAssertTrue(meet.body.contains("GET /Meet/alice/F3K9Q2ZT?sl=1 HTTP/1.1"), meet.body)
        XCTAssertTrue(meet.body.contains("host:     webext.contoso.test:443"), meet.body)
        XCTAssertTrue(meet.body.contains("answered on 127.0.0.1:\(backend.port) over \(scheme)"), meet.body)

        try await connection.request("/dialin", host: "dialin.contoso.test")
        let dialin = try await connection.readResponse()
        XCTAssertEqual(dialin.status, 200)
        XCTAssertTrue(dialin.body.contains("Dial-in"))

        try await connection.request("/abs/handler/C-1234-5678.lsabs")
        let addressBook = try await connection.readResponse()
        XCTAssertEqual(addressBook.status, 401)
        XCTAssertEqual(addressBook.values("WWW-Authenticate"), ["NTLM", "Negotiate"], "two separate header lines")

        try await connection.request("/Autodiscover/AutodiscoverService.svc/root", host: "lyncdiscover.contoso.test")
        let autodiscover = try await connection.readResponse()
        XCTAssertEqual(autodiscover.status, 200)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(autodiscover.body.utf8)) as? [String: Any])
        let links = try XCTUnwrap(json["_links"] as? [String: [String: String]])
        XCTAssertEqual(
            links["user"]?["href"],
            "https://lyncdiscover.contoso.test/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=contoso.test"
        )

        let start = ContinuousClock.now
        try await connection.request("/ucwa/v1/applications/101/events?ack=1&timeout=1")
        let poll = try await connection.readResponse()
        let held = ContinuousClock.now - start
        XCTAssertEqual(poll.status, 200)
        XCTAssertTrue(poll.body.hasPrefix("{\"events\":[]"), poll.body)
        XCTAssertGreaterThanOrEqual(held, .milliseconds(950))
        XCTAssertLessThan(held, .seconds(3))

        try await connection.request("/no/such/thing")
        let missing = try await connection.readResponse()
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.values("X-Demo-Member"), [backend.name])
    }

    func testNTLMHandshakeCompletesOnlyOnTheSameConnection() async throws {
        try await withBackend(name: "pool-fe1") { backend in

            try await RawHTTPConnection.with(port: backend.port) { connection in
                try await connection.request("/abs/handler/x", headers: ["Authorization: NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw=="])
                let challenge = try await connection.readResponse()
                XCTAssertEqual(challenge.status, 401)
                let values = challenge.values("WWW-Authenticate")
                XCTAssertEqual(values.count, 1)
                XCTAssertTrue(values[0].hasPrefix("NTLM TlRMTVNTUAACAAAA"), values[0])

                try await connection.request("/abs/handler/x", headers: ["Authorization: NTLM TlRMTVNTUAADAAAAGAAYAEgAAAA="])
                let authenticated = try await connection.readResponse()
                XCTAssertEqual(authenticated.status, 200)
            }
            // The type 3 message alone on a new connection is not enough.
            try await RawHTTPConnection.with(port: backend.port) { connection in
                try await connection.request("/abs/handler/x", headers: ["Authorization: NTLM TlRMTVNTUAADAAAAGAAYAEgAAAA="])
                let restarted = try await connection.readResponse()
                XCTAssertEqual(restarted.status, 401)
            }
        }
    }

    func testRequestBodiesChunkedAndExpectContinue() async throws {
        try await withBackend(name: "pool-fe1") { backend in

            try await RawHTTPConnection.with(port: backend.port) { connection in
                try await connection.send(
                    "POST /meet/upload HTTP/1.1\r\nHost: webext.contoso.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"
                )
                let chunked = try await connection.readResponse()
                XCTAssertEqual(chunked.status, 200)
                XCTAssertTrue(chunked.body.contains("body:     8 bytes (chunked)"), chunked.body)

                try await connection.send(
                    "POST /meet/upload HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
                )
                let interim = try await connection.readResponse(skipInterim: false)
                XCTAssertEqual(interim.status, 100)
                try await connection.send("data")
                let final = try await connection.readResponse()
                XCTAssertEqual(final.status, 200)
                XCTAssertTrue(final.body.contains("body:     4 bytes\n"), final.body)
            }
            XCTAssertEqual(backend.connectionsAccepted, 1)
            XCTAssertEqual(backend.requestsAnswered, 2)
        }
    }

    func testHeadAndConnectionClose() async throws {
        try await withBackend(name: "director") { backend in

            try await RawHTTPConnection.with(port: backend.port) { connection in
                try await connection.request("/dialin", method: "HEAD")
                let head = try await connection.readResponse(bodiless: true)
                XCTAssertEqual(head.status, 200)
                XCTAssertGreaterThan(Int(head.first("Content-Length") ?? "") ?? 0, 0)

                try await connection.request("/health", headers: ["Connection: close"])
                let last = try await connection.readResponse()
                XCTAssertEqual(last.first("Connection"), "close")
                let closed = try await connection.readUntilClosed()
                XCTAssertTrue(closed)
            }
        }
    }

    func testClientDisconnectCancelsTheLongPoll() async throws {
        try await withBackend(name: "pool-fe1") { backend in

            try await RawHTTPConnection.with(port: backend.port) { connection in
                try await connection.request("/ucwa/v1/applications/101/events?timeout=60")
                let held = ContinuousClock.now + .seconds(3)
                while backend.holdsStarted == 0, ContinuousClock.now < held {
                    try await Task.sleep(for: .milliseconds(10))
                }
                XCTAssertEqual(backend.holdsStarted, 1)
            }
            let deadline = ContinuousClock.now + .seconds(3)
            while backend.holdsCancelled == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            XCTAssertEqual(backend.holdsCancelled, 1)
            XCTAssertEqual(backend.requestsAnswered, 0)
        }
    }

    func testIPv6LoopbackAndStop() async throws {
        let backend = try await DemoBackend.start(name: "pool-fe1", host: "::1", on: group)
        XCTAssertEqual(backend.address, "[::1]:\(backend.port)")
        try await RawHTTPConnection.with(port: backend.port, host: "::1") { connection in
            try await connection.request("/health")
            let response = try await connection.readResponse()
            XCTAssertEqual(response.status, 200)
        }
        try await backend.stop()
        try await backend.stop()
        do {
            try await RawHTTPConnection.with(port: backend.port, host: "::1") { _ in }
            XCTFail("connected to a stopped backend")
        } catch {}
    }
}
