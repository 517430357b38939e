import XCTest

final class EdgesplitPlaceholder: XCTestCase {
    func testPlaceholder() {}
}
