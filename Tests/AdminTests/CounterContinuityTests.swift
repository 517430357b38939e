import Admin
import XCTest

final class CounterContinuityTests: XCTestCase {
    /// A series that went down was reset by a reload: its new value is all growth; otherwise
    /// the growth is the difference. The sum of growths never goes down.
    func testCounterContinuity() {
        let c = CounterContinuity()
        XCTAssertEqual([5, 8, 8, 3, 10].map { c.growth("a", $0) }, [5, 3, 0, 3, 7])
        XCTAssertEqual(c.growth("b", 2), 2, "series are apart")
        XCTAssertEqual(c.growth("a", 10), 0)
    }
}
