import XCTest

final class HTTP1Placeholder: XCTestCase {
    func testPlaceholder() {}
}
