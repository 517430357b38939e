import XCTest

final class DemoPlaceholder: XCTestCase {
    func testPlaceholder() {}
}
