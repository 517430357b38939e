import Affinity
import Members
import Publishing
import XCTest

/// The balancer on one worker, on an injected clock: persistence, the passive-health hold,
/// the monitor's verdict, unresolved names and least-outstanding for `persistence: none`.
final class FarmBalancerTests: XCTestCase {
    private let position = SourcePosition(file: "t", line: 1, column: 1)
    private let second: FarmBalancer.Instant = 1_000_000_000

    private func farm(_ persistence: Persistence, members: Int = 3) -> Farm {
        Farm(
            name: "pool", members: (1...members).map { FarmMember(host: "fe\($0)", port: 4443, text: "fe\($0):4443", position: position) },
            persistence: persistence, cookieKey: persistence == .cookie ? "k" : nil, position: position)
    }

    private func balancer(_ persistence: Persistence, resolved: [Bool] = [true, true, true], hold: FarmBalancer.Instant = FarmBalancer.defaultFailureHold) -> FarmBalancer {
        FarmBalancer(farm: farm(persistence), farmIndex: 0, resolved: resolved, mask: .host, seed: 7, failureHold: hold)
    }

    func testSourcePersistenceIsTheFarmTableAndMovesOnlyTheFailedMembersClients() {
        let b = balancer(.source)
        let table = FarmMemberTable(farm: farm(.source), mask: .host, seed: 7)
        let clients = (0..<100).map { ClientAddress("198.51.100.\($0)")! }
        for client in clients { XCTAssertEqual(b.pick(for: client, now: 0), table.member(for: client)) }
        let failed = b.pick(for: clients[0], now: 0)!
        b.markFailed(failed, now: 10 * second)
        for client in clients {
            let before = table.member(for: client)
            let now = b.pick(for: client, now: 11 * second)
            XCTAssertNotEqual(now, failed)
            if before != failed { XCTAssertEqual(now, before, "a client of another member moved") }
        }
    }

    /// The hold ends at exactly `failedAt + failureHold`, or earlier when a connection to the
    /// member succeeds; no sleeping.
    func testAFailedMemberIsHeldOutForTheHoldThenTriedAgain() {
        let one = FarmBalancer(farm: farm(.none, members: 1), farmIndex: 0, resolved: [true], mask: .host, seed: 7)
        XCTAssertEqual(one.failureHold, FarmBalancer.defaultFailureHold)
        let client = ClientAddress("192.0.2.1")!
        one.markFailed(0, now: 100 * second)
        XCTAssertNil(one.pick(for: client, now: 100 * second))
        XCTAssertNil(one.pick(for: client, now: 105 * second - 1), "held one nanosecond before the end")
        XCTAssertFalse(one.isAvailable(0, now: 105 * second - 1))
        XCTAssertEqual(one.pick(for: client, now: 105 * second), 0, "tried again when the hold ends")
        one.markFailed(0, now: 200 * second)
        one.markSucceeded(0)
        XCTAssertEqual(one.pick(for: client, now: 200 * second), 0, "a success ends the hold")
        let short = balancer(.none, hold: 2 * second)
        short.markFailed(0, now: 0)
        XCTAssertFalse(short.isAvailable(0, now: 2 * second - 1))
        XCTAssertTrue(short.isAvailable(0, now: 2 * second))
    }

    func testAnExcludedMemberIsSkippedForThatPickOnly() {
        let b = balancer(.source)
        let client = ClientAddress("203.0.113.9")!
        let first = b.pick(for: client, now: 0)!
        let retry = b.pick(for: client, excluding: first, now: 0)
        XCTAssertNotNil(retry)
        XCTAssertNotEqual(retry, first)
        XCTAssertEqual(b.pick(for: client, now: 0), first)
    }

    func testTheMonitorsVerdictAndUnresolvedNamesTakeMembersOut() {
        let b = balancer(.source, resolved: [false, true, true])
        let clients = (0..<60).map { ClientAddress("198.51.100.\($0)")! }
        XCTAssertFalse(clients.contains { b.pick(for: $0, now: 0) == 0 }, "an unresolved member is never picked")
        b.setResolved(0)
        XCTAssertTrue(clients.contains { b.pick(for: $0, now: 0) == 0 })
        b.setMonitorAvailable(1, false)
        b.setMonitorAvailable(2, false)
        b.setMonitorAvailable(0, false)
        XCTAssertNil(b.pick(for: clients[0], now: 0), "no member: the caller answers 503")
        b.setMonitorAvailable(2, true)
        XCTAssertEqual(b.pick(for: clients[0], now: 0), 2)
    }

    func testPersistenceNoneTakesTheLeastOutstandingMember() {
        let b = balancer(.none)
        let client = ClientAddress("192.0.2.7")!
        XCTAssertEqual(b.pick(for: client, now: 0), 0)
        b.requestStarted(0)
        XCTAssertEqual(b.pick(for: client, now: 0), 1)
        b.requestStarted(1)
        b.requestStarted(1)
        XCTAssertEqual(b.pick(for: client, now: 0), 2)
        b.requestStarted(2)
        XCTAssertEqual(b.pick(for: client, now: 0), 0)
        b.requestFinished(1)
        b.requestFinished(1)
        XCTAssertEqual(b.pick(for: client, now: 0), 1)
        XCTAssertEqual(b.outstandingRequests, [1, 0, 1])
        XCTAssertEqual(b.forwarded, [1, 2, 1], "forwarded counts every start, finished or not")
    }
}
