import Foundation
import XCTest

/// Farm members by persistence and passive health: source persistence keeps a client on one
/// member, a member that refuses is skipped, and a held-down member comes back after the hold.
final class FarmTests: ProxyTestCase {
    func testSourcePersistenceKeepsClientOnOneMemberAndFailsOver() throws {
        let backends = try (0..<3).map { index in try startBackend { _ in .send(RecordingBackend.ok("m\(index)")) } }
        let proxy = try startProxy(
            """
            listeners:
              - { name: http, address: 127.0.0.1, port: 1 }
            farms:
              - { name: pool, members: [\(backends.map { "\"\($0.member)\"" }.joined(separator: ", "))], persistence: source }
            rules:
              - { name: web, public_names: [webext.contoso.test], farm: pool }
            """
        )
        let answers = try (0..<6).map { _ in try exchange(proxy.port, get("/")).bodyText }
        XCTAssertEqual(Set(answers).count, 1, "one client address, one member: \(answers)")
        let chosen = Int(answers[0].dropFirst())!

        backends[chosen].stop()
        let after = try (0..<4).map { _ in try exchange(proxy.port, get("/")).bodyText }
        XCTAssertFalse(after.contains("m\(chosen)"))
        XCTAssertEqual(Set(after).count, 1, "the client moves to one other member: \(after)")
    }

    /// End to end: a refused member answers 502, then 503 with Retry-After while it is held
    /// out, even once it is back up. When the hold ends is `FarmBalancerTests`' business (an
    /// injected clock, no waiting).
    func testAHeldDownMemberIsHeldOut() throws {
        let port = try refusingPort()
        let proxy = try startProxy(simpleYAML(members: ["127.0.0.1:\(port)"]))
        XCTAssertEqual(try exchange(proxy.port, get("/")).status, 502)
        let held = try exchange(proxy.port, get("/"))
        XCTAssertEqual(held.status, 503)
        XCTAssertEqual(held.first("retry-after").flatMap(Int.init).map { $0 > 0 }, true)

        // The member comes up during the hold: still held out, nothing is sent to it.
        let backend = try RecordingBackend(port: port, respond: { _ in .send(RecordingBackend.ok("back")) })
        addTeardownBlock { backend.stop() }
        XCTAssertEqual(try exchange(proxy.port, get("/")).status, 503)
        XCTAssertEqual(backend.requests.count, 0)
    }
}
