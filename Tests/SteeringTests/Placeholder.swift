import XCTest

final class SteeringPlaceholder: XCTestCase {
    func testPlaceholder() {}
}
