import NIOCore
import MemberConnections
import XCTest

/// What the member pool's sweep closes: the first 64 idle connections of a member stay for the
/// whole minute, those beyond them (left by a burst of HTTP/2 streams) go after 5 s idle.
final class MemberPoolExpiryTests: XCTestCase {
    private let now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    private func idle(_ seconds: [Int64]) -> [NIODeadline] {
        seconds.map { now - .seconds($0) }
    }

    func testTheSteadyNumberStaysForTheWholeMinute() {
        XCTAssertEqual(MemberPool.expiredCount(idleSince: idle(Array(repeating: 59, count: 64)), now: now), 0)
        XCTAssertEqual(MemberPool.expiredCount(idleSince: idle(Array(repeating: 61, count: 10)), now: now), 10)
        XCTAssertEqual(MemberPool.expiredCount(idleSince: idle([]), now: now), 0)
    }

    func testConnectionsBeyondTheSteadyNumberGoAfterFiveSeconds() {
        XCTAssertEqual(MemberPool.expiredCount(idleSince: idle(Array(repeating: 6, count: 100)), now: now), 36)
        XCTAssertEqual(MemberPool.expiredCount(idleSince: idle(Array(repeating: 1, count: 100)), now: now), 0, "a load still there")
        // Only those idle long enough, the oldest first.
        XCTAssertEqual(MemberPool.expiredCount(idleSince: idle(Array(repeating: 6, count: 20) + Array(repeating: 1, count: 80)), now: now), 20)
        // The minute's limit applies beyond the steady number too.
        XCTAssertEqual(MemberPool.expiredCount(idleSince: idle(Array(repeating: 61, count: 50) + Array(repeating: 1, count: 50)), now: now), 50)
        XCTAssertEqual(MemberPool.expiredCount(idleSince: idle(Array(repeating: 6, count: 1024)), now: now), 1024 - 64)
    }
}
