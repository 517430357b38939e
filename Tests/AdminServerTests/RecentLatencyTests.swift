import NIOCore
import XCTest

@testable import AdminServer

/// The latency percentiles of the last 10 to 20 seconds: slots left behind as time moves,
/// and workers' figures added in the same slot. No clock but the one passed in.
final class RecentLatencyTests: XCTestCase {
    private func at(_ seconds: UInt64) -> NIODeadline { .uptimeNanoseconds(seconds * 1_000_000_000) }

    func testTwoSlotsAreKeptAndOlderOnesForgotten() {
        var recent = RecentLatency()
        for _ in 0..<99 { recent.record(1_000, at: at(100)) }
        recent.record(900_000, at: at(105))
        XCTAssertEqual(recent.count, 100)
        XCTAssertEqual(recent.milliseconds(percentile: 50), 1, accuracy: 0.01)
        XCTAssertEqual(recent.milliseconds(percentile: 99.9), 900, accuracy: 10)

        recent.record(50_000, at: at(112))  // the next slot: 100…109 is now the previous one
        XCTAssertEqual(recent.count, 101)
        recent.advance(to: RecentLatency.slot(of: at(125)))  // two slots on: all of it is old
        XCTAssertEqual(recent.count, 1, "only what ended in 110…119 is left")
        XCTAssertEqual(recent.milliseconds(percentile: 50), 50, accuracy: 1)
        recent.advance(to: RecentLatency.slot(of: at(200)))
        XCTAssertEqual(recent.count, 0)
        XCTAssertEqual(recent.milliseconds(percentile: 99), 0)
        recent.advance(to: RecentLatency.slot(of: at(150)))  // never backwards
        XCTAssertEqual(recent.slot, 20)
    }

    func testWorkersAreAddedInTheLaterSlot() {
        var stale = RecentLatency()
        stale.record(5_000, at: at(10))
        var fresh = RecentLatency()
        fresh.record(1_000, at: at(30))
        fresh.record(3_000, at: at(41))
        var total = RecentLatency()
        total.add(stale)
        total.add(fresh)
        XCTAssertEqual(total.count, 2, "the stale worker's 5 ms from slot 1 is not recent in slot 4")
        XCTAssertEqual(total.milliseconds(percentile: 100), 3, accuracy: 0.1)
    }

    func testTrafficCountersKeepBoth() {
        var counters = TrafficCounters()
        counters.record(status: 200, bytesIn: 10, bytesOut: 20, microseconds: 4_000, at: at(1))
        counters.record(status: 503, bytesIn: 10, bytesOut: 20, microseconds: 8_000, at: at(60))
        XCTAssertEqual(counters.latency.totalCount, 2)
        XCTAssertEqual(counters.recentLatency.count, 1)
        XCTAssertEqual(counters.statusClasses, [0, 1, 0, 0, 1])
    }
}
