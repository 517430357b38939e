import Admin
import Foundation
import XCTest

@testable import AdminServer
@testable import Proxy

/// `/dashboard` on the admin listener, over real sockets on 127.0.0.1: the feed is the
/// `stats --json` object, the token is required when configured, changes go through the
/// control socket's own command, and the admin port's limits hold.
final class DashboardEndpointTests: ProxyTestCase {
    private let token = "9c1d4e0b7a2f4c58a1e3"

    private func startGuarded(changes: Bool = true) throws -> (ProxyHarness, RecordingBackend, Int) {
        let backend = try startBackend { request in
            String(decoding: request.target, as: UTF8.self) == "/fail"
                ? .send(RecordingBackend.response(status: "503 Service Unavailable")) : .send(RecordingBackend.ok("ok"))
        }
        let proxy = try startProxy(
            simpleYAML(members: [backend.member], top: """
                admin:
                  metrics: 9464
                  dashboard: { token_file: "mem:token", allow_changes: \(changes) }
                """),
            files: ["mem:token": Array("\(token)\n".utf8)], workers: 2
        )
        return (proxy, backend, try XCTUnwrap(proxy.server.metricsPort))
    }

    private func request(_ port: Int, _ method: String, _ path: String, _ headers: [String] = [], body: String = "") throws -> TestResponse {
        var lines = ["\(method) \(path) HTTP/1.1", "Host: 127.0.0.1"] + headers
        if method == "POST" { lines.append("Content-Length: \(body.utf8.count)") }
        return try exchange(port, lines.joined(separator: "\r\n") + "\r\n\r\n" + body)
    }

    private func json(_ response: TestResponse) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], response.bodyText)
    }

    func testTokenIsRequiredAndNeverEchoed() throws {
        let (_, _, port) = try startGuarded()
        for path in ["/dashboard", "/dashboard/stats", "/dashboard?token=wrong", "/dashboard/stats?token=\(token)"] {
            let answer = try request(port, "GET", path)
            XCTAssertEqual(answer.status, 401, path)
            XCTAssertEqual(answer.bodyText, "authentication required\n", path)
            XCTAssertEqual(answer.first("www-authenticate"), "Bearer realm=\"edgesplit dashboard\"")
            XCTAssertFalse(answer.headText.contains(token), path)
        }
        XCTAssertEqual(try request(port, "GET", "/dashboard/stats", ["Authorization: Bearer \(token)x"]).status, 401)
        XCTAssertEqual(try request(port, "GET", "/metrics").status, 200, "/metrics stays open, as before")

        // The token in the address once: a cookie, and the page without it in the address bar.
        let handover = try request(port, "GET", "/dashboard?token=\(token)")
        XCTAssertEqual(handover.status, 303)
        XCTAssertEqual(handover.first("location"), "/dashboard")
        XCTAssertEqual(handover.first("set-cookie"), "edgesplit_dashboard=\(token); Path=/dashboard; HttpOnly; SameSite=Strict")
        let page = try request(port, "GET", "/dashboard", ["Cookie: edgesplit_dashboard=\(token)"])
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.first("content-type"), "text/html; charset=utf-8")
        XCTAssertTrue(page.first("content-security-policy")?.contains("default-src 'none'") == true)
        XCTAssertTrue(page.bodyText.contains("data-changes=\"true\""))
    }

    func testFeedIsTheStatsModelWithRecentServerErrors() throws {
        let (proxy, backend, port) = try startGuarded()
        for _ in 0..<5 { XCTAssertEqual(try exchange(proxy.port, get("/")).status, 200) }
        XCTAssertEqual(try exchange(proxy.port, get("/fail")).status, 503)
        let answer = try request(port, "GET", "/dashboard/stats", ["Authorization: Bearer \(token)"])
        XCTAssertEqual(answer.status, 200, answer.bodyText)
        XCTAssertEqual(answer.first("content-type"), "application/json")
        let document = try json(answer)
        XCTAssertEqual(document["running"] as? Bool, true)
        XCTAssertNotNil(document["kernel_error"], "no kernel steering in this test: said so, as stats --json says it")
        let process = try XCTUnwrap(document["process"] as? [String: Any])
        XCTAssertNil(process["ok"])
        let rules = try XCTUnwrap(process["rules"] as? [[String: Any]])
        XCTAssertEqual(rules.first?["name"] as? String, "web")
        XCTAssertEqual(rules.first?["requests"] as? Int, 6)
        XCTAssertEqual(rules.first?["status_5xx"] as? Int, 1)
        let recent = try XCTUnwrap(process["recent_5xx"] as? [[String: Any]])
        XCTAssertEqual(recent.count, 1)
        XCTAssertEqual(recent.first?["rule"] as? String, "web")
        XCTAssertEqual(recent.first?["member"] as? String, backend.member)
        XCTAssertEqual(recent.first?["status"] as? Int, 503)
        XCTAssertNotNil(recent.first?["time"] as? String)
        // The same model as the control socket's `stats` (what `stats --json` prints).
        let reply = JSONOutput.data(ControlReply.stats(ProcessStats(try proxy.server.stats().wait())))
        let control = try XCTUnwrap(try JSONSerialization.jsonObject(with: reply) as? [String: Any])
        XCTAssertEqual(control["ok"] as? Bool, true)
        XCTAssertEqual(Set(process.keys), Set(control.keys).subtracting(["ok"]))
    }

    func testDrainAndUndrainGoThroughTheControlCommand() throws {
        let (proxy, backend, port) = try startGuarded()
        let auth = "Authorization: Bearer \(token)"
        let body = #"{"farm": "pool", "member": "\#(backend.member)"}"#
        let drained = try request(port, "POST", "/dashboard/drain", [auth, "X-Edgesplit-Dashboard: 1"], body: body)
        XCTAssertEqual(drained.status, 200, drained.bodyText)
        XCTAssertEqual(try json(drained)["ok"] as? Bool, true)
        XCTAssertEqual(try proxy.server.memberStatus().wait().first?.state, "drained")
        XCTAssertEqual(try request(port, "POST", "/dashboard/undrain", [auth, "X-Edgesplit-Dashboard: 1"], body: body).status, 200)
        XCTAssertEqual(try proxy.server.memberStatus().wait().first?.state, "up")

        let unknown = try request(port, "POST", "/dashboard/drain", [auth, "X-Edgesplit-Dashboard: 1"],
                                  body: #"{"farm": "pool", "member": "127.0.0.9:1"}"#)
        XCTAssertEqual(unknown.status, 400)
        XCTAssertTrue((try json(unknown)["error"] as? String)?.contains("has no member '127.0.0.9:1'") == true, unknown.bodyText)
        XCTAssertEqual(try request(port, "POST", "/dashboard/drain", ["X-Edgesplit-Dashboard: 1"], body: body).status, 401)
        XCTAssertEqual(try request(port, "POST", "/dashboard/drain", [auth], body: body).status, 403)
        XCTAssertEqual(try proxy.server.memberStatus().wait().first?.state, "up")
    }

    func testBasicAuthenticationAndNoDashboardWithoutTheKey() throws {
        let backend = try startBackend()
        let proxy = try startProxy(
            simpleYAML(members: [backend.member], top: """
                admin:
                  metrics: 9464
                  dashboard: { basic_auth: { user: ops, password_file: "mem:password" } }
                """),
            files: ["mem:password": Array("s3cret\n".utf8)]
        )
        let port = try XCTUnwrap(proxy.server.metricsPort)
        let refused = try request(port, "GET", "/dashboard")
        XCTAssertEqual(refused.status, 401)
        XCTAssertEqual(refused.first("www-authenticate"), "Basic realm=\"edgesplit dashboard\", charset=\"UTF-8\"")
        XCTAssertFalse(refused.headText.contains("s3cret") || refused.bodyText.contains("s3cret"))
        let wrong = Data("ops:s3cre".utf8).base64EncodedString()
        XCTAssertEqual(try request(port, "GET", "/dashboard/stats", ["Authorization: Basic \(wrong)"]).status, 401)
        let right = Data("ops:s3cret".utf8).base64EncodedString()
        XCTAssertEqual(try request(port, "GET", "/dashboard/stats", ["Authorization: Basic \(right)"]).status, 200)
        let page = try request(port, "GET", "/dashboard", ["Authorization: Basic \(right)"])
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.bodyText.contains("data-changes=\"false\""), "changes are off unless allowed")

        let plain = try startProxy(simpleYAML(members: [backend.member], top: "admin: { metrics: 9464 }"))
        let plainPort = try XCTUnwrap(plain.server.metricsPort)
        XCTAssertEqual(try request(plainPort, "GET", "/dashboard").status, 404, "no admin.dashboard: no dashboard")
        XCTAssertEqual(try request(plainPort, "GET", "/dashboard/stats").status, 404)
    }

    func testReadOnlyByDefault() throws {
        let (proxy, backend, port) = try startGuarded(changes: false)
        let answer = try request(port, "POST", "/dashboard/drain", ["Authorization: Bearer \(token)", "X-Edgesplit-Dashboard: 1"],
                                 body: #"{"farm": "pool", "member": "\#(backend.member)"}"#)
        XCTAssertEqual(answer.status, 403)
        XCTAssertEqual(try proxy.server.memberStatus().wait().first?.state, "up")
        let page = try request(port, "GET", "/dashboard", ["Authorization: Bearer \(token)"])
        XCTAssertTrue(page.bodyText.contains("data-changes=\"false\""))
    }

    /// A body over `DashboardRequest.maxBody` is answered 413 and the connection closed,
    /// before any of it is parsed; one at the limit is read.
    func testRequestBodyOverTheLimitIsRefused() throws {
        let (proxy, backend, port) = try startGuarded()
        let headers = "Authorization: Bearer \(token)\r\nX-Edgesplit-Dashboard: 1\r\n"
        let client = try connect(port)
        try client.send("POST /dashboard/drain HTTP/1.1\r\nHost: x\r\n\(headers)Content-Length: \(DashboardRequest.maxBody + 1)\r\n\r\n")
        try client.send(String(repeating: "a", count: DashboardRequest.maxBody + 1))
        let refused = try client.readResponse()
        XCTAssertEqual(refused.status, 413)
        XCTAssertTrue(client.waitForClose(timeout: 3))

        let body = #"{"farm": "pool", "member": "\#(backend.member)"}"#
        let padded = body + String(repeating: " ", count: DashboardRequest.maxBody - body.utf8.count)
        let atLimit = try exchange(port, "POST /dashboard/drain HTTP/1.1\r\nHost: x\r\n\(headers)Content-Length: \(padded.utf8.count)\r\n\r\n\(padded)")
        XCTAssertEqual(atLimit.status, 200, atLimit.bodyText)
        XCTAssertEqual(try proxy.server.memberStatus().wait().first?.state, "drained")
    }
}
