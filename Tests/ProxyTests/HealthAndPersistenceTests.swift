import Foundation
import NIOCore
import Publishing
import XCTest

@testable import Proxy

/// Farms with active health checks, cookie persistence (MS-WSMAN) and admin drain.
final class HealthAndPersistenceTests: ProxyTestCase {
    /// A backend that names itself and answers `/health` with a status the test controls.
    final class Member: @unchecked Sendable {
        let name: String
        private let lock = NSLock()
        private var _healthStatus = 200
        var backend: RecordingBackend!
        var healthStatus: Int {
            get { lock.lock(); defer { lock.unlock() }; return _healthStatus }
            set { lock.lock(); _healthStatus = newValue; lock.unlock() }
        }
        init(name: String) { self.name = name }
    }

    private func startMembers(_ count: Int) throws -> [Member] {
        try (0..<count).map { index in
            let member = Member(name: "m\(index)")
            member.backend = try startBackend { request in
                if request.target == Array("/health".utf8) {
                    let status = member.healthStatus
                    return .send(RecordingBackend.response(status: "\(status) Status", body: "\(status)"))
                }
                return .send(RecordingBackend.ok(member.name))
            }
            return member
        }
    }

    private func memberList(_ members: [Member]) -> String {
        members.map { "\"\($0.backend.member)\"" }.joined(separator: ", ")
    }

    private func waitFor(_ timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }

    private func status(_ proxy: ProxyHarness) throws -> [String: ProxyServer.MemberStatus] {
        let list = try proxy.server.memberStatus().wait()
        return Dictionary(uniqueKeysWithValues: list.map { ($0.member, $0) })
    }

    func testActiveChecksTakeAFailingMemberOutAndBringItBackAfterRise() throws {
        let members = try startMembers(2)
        let proxy = try startProxy(
            """
            listeners:
              - { name: http, address: 127.0.0.1, port: 1 }
            farms:
              - name: pool
                members: [\(memberList(members))]
                persistence: none
                health: { path: /health, interval: 300ms, timeout: 250ms, rise: 2, fall: 2, expect: [200-399, 401] }
            rules:
              - { name: web, public_names: [webext.contoso.test], farm: pool }
            """
        )
        let bad = members[0]
        bad.healthStatus = 500
        XCTAssertTrue(try waitFor(5) { try status(proxy)[bad.backend.member]?.up == false }, "down after fall failed checks")
        XCTAssertTrue(try waitFor(2) { try status(proxy)[bad.backend.member]?.lastCheck == "HTTP 500" })
        let answers = try (0..<6).map { _ in try exchange(proxy.port, get("/")).bodyText }
        XCTAssertEqual(Set(answers), ["m1"], "no request goes to a member that is down")

        bad.healthStatus = 401  // Lync's anonymous answer is a 401: expected, so healthy
        XCTAssertTrue(try waitFor(5) { try status(proxy)[bad.backend.member]?.up == true }, "back after rise passes")
        let after = try (0..<8).map { _ in try exchange(proxy.port, get("/")).bodyText }
        XCTAssertTrue(after.contains("m0"), "the member takes requests again: \(after)")
    }

    /// The process's open descriptors.
    private func openDescriptors() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    }

    /// A member that accepts and never answers: every check times out. Each timed-out check
    /// must close its connection; one descriptor per check used to stay open (and, on the
    /// member's side, its peer), until the process ran out.
    func testTimedOutChecksCloseTheirConnections() throws {
        let silent = try startBackend { _ in .stall }
        let health = "health: { path: /health, interval: 100ms, timeout: 50ms, rise: 2, fall: 1 }"
        let proxy = try startProxy(simpleYAML(members: [silent.member], farm: health))
        XCTAssertTrue(try waitFor(5) { try status(proxy)[silent.member]?.lastCheck == "timed out" })
        let before = try openDescriptors()
        let checksBefore = silent.connectionCount
        Thread.sleep(forTimeInterval: 8)
        let checks = silent.connectionCount - checksBefore
        XCTAssertGreaterThan(checks, 30, "the checks ran (one connection each)")
        let closed = try waitFor(2) { try openDescriptors() - before < 10 }
        let left = try openDescriptors() - before
        XCTAssertTrue(closed, "\(checks) timed-out checks left \(left) more descriptors open")
    }

    func testStoppedMemberUnderLoadCausesNoClientErrorAndIsMarkedDown() throws {
        let members = try startMembers(2)
        let proxy = try startProxy(
            """
            listeners:
              - { name: http, address: 127.0.0.1, port: 1 }
            farms:
              - name: pool
                members: [\(memberList(members))]
                persistence: none
                health: { path: /health, interval: 200ms, timeout: 100ms, rise: 2, fall: 2 }
            rules:
              - { name: web, public_names: [webext.contoso.test], farm: pool }
            """
        )
        var statuses: [Int] = []
        for i in 0..<60 {
            if i == 20 { members[0].backend.stop() }
            statuses.append(try exchange(proxy.port, get("/")).status)
        }
        XCTAssertEqual(Set(statuses), [200], "requests not yet sent to the stopped member are retried elsewhere")
        XCTAssertTrue(try waitFor(2) { try status(proxy)[members[0].backend.member]?.up == false })
    }

    func testCookiePersistenceInsertsMSWSMANAndHonoursIt() throws {
        let members = try startMembers(3)
        let yaml = """
            listeners:
              - { name: http, address: 127.0.0.1, port: 1 }
            farms:
              - { name: pool, members: [\(memberList(members))], persistence: cookie, cookie_key: "a-secret-of-sixteen+" }
            rules:
              - { name: web, public_names: [webext.contoso.test], farm: pool }
            """
        let proxy = try startProxy(yaml)
        let config = ConfigLoader.load(yaml: yaml, file: "t").config!
        let cookie = PersistenceCookie(farm: config.farms[0], seed: config.affinity.seed)

        // No cookie: a member by source hash, and exactly the MS-WSMAN cookie for it.
        let first = try exchange(proxy.port, get("/"))
        let chosen = members.firstIndex { $0.name == first.bodyText }!
        XCTAssertEqual(first.values("set-cookie"), ["MS-WSMAN=\(cookie.tokens[chosen]); Path=/; Secure"])

        // A valid cookie wins over the source hash, and needs no new cookie.
        for target in 0..<3 {
            let response = try exchange(proxy.port, get("/", headers: ["Cookie: other=1; MS-WSMAN=\(cookie.tokens[target])"]))
            XCTAssertEqual(response.bodyText, "m\(target)")
            XCTAssertEqual(response.values("set-cookie"), [])
        }
        // Every response to a request without a valid cookie gets one, also on one connection.
        let client = try connect(proxy.port)
        for _ in 0..<3 {
            try client.send(get("/", headers: ["Cookie: MS-WSMAN=forged0000000000"]))
            let response = try client.readResponse()
            XCTAssertEqual(response.values("set-cookie").count, 1)
            XCTAssertEqual(response.bodyText, first.bodyText)
        }
        // A cookie naming a member that is out: another member, and a cookie naming it.
        members[1].backend.stop()
        _ = try? exchange(proxy.port, get("/", headers: ["Cookie: MS-WSMAN=\(cookie.tokens[1])"]))
        let moved = try exchange(proxy.port, get("/", headers: ["Cookie: MS-WSMAN=\(cookie.tokens[1])"]))
        XCTAssertNotEqual(moved.bodyText, "m1")
        let movedIndex = members.firstIndex { $0.name == moved.bodyText }!
        XCTAssertEqual(moved.values("set-cookie"), ["MS-WSMAN=\(cookie.tokens[movedIndex]); Path=/; Secure"])
    }

    func testDrainSendsNoNewClientsAndLetsInFlightFinish() throws {
        let a = try startBackend { request in
            request.target == Array("/slow".utf8) ? .sendAfter(1.0, RecordingBackend.ok("a")) : .send(RecordingBackend.ok("a"))
        }
        let b = try startBackend { request in
            request.target == Array("/slow".utf8) ? .sendAfter(1.0, RecordingBackend.ok("b")) : .send(RecordingBackend.ok("b"))
        }
        let proxy = try startProxy(
            """
            listeners:
              - { name: http, address: 127.0.0.1, port: 1 }
            farms:
              - { name: pool, members: ["\(a.member)", "\(b.member)"], persistence: source }
            rules:
              - { name: web, public_names: [webext.contoso.test], farm: pool }
            """
        )
        // Find which member this client's source address maps to, and make it `a`'s turn.
        let home = try exchange(proxy.port, get("/")).bodyText
        let homeMember = home == "a" ? a.member : b.member

        // An exchange in flight on the home member…
        let inflight = try connect(proxy.port)
        try inflight.send(get("/slow"))
        let homeBackend = home == "a" ? a : b
        XCTAssertTrue(waitFor(3) { homeBackend.requests.contains { $0.target == Array("/slow".utf8) } })
        try proxy.server.setDrained(farm: "pool", member: homeMember, true).wait()
        XCTAssertEqual(try status(proxy)[homeMember]?.state, "drained")
        // …new requests go to the other member…
        for _ in 0..<4 { XCTAssertNotEqual(try exchange(proxy.port, get("/")).bodyText, home) }
        // …while the one in flight finishes.
        XCTAssertEqual(try inflight.readResponse().bodyText, home)
        try proxy.server.setDrained(farm: "pool", member: homeMember, false).wait()
        XCTAssertEqual(try exchange(proxy.port, get("/")).bodyText, home, "undrained: the client is back on its member")

        XCTAssertThrowsError(try proxy.server.setDrained(farm: "nosuch", member: "0", true).wait())
        XCTAssertThrowsError(try proxy.server.setDrained(farm: "pool", member: "10.9.9.9:1", true).wait()) { error in
            XCTAssertTrue("\(error)".contains("members are:"), "\(error)")
        }
    }
}
