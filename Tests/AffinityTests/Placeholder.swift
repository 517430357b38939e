import XCTest

final class AffinityPlaceholder: XCTestCase {
    func testPlaceholder() {}
}
