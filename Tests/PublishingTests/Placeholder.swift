import XCTest

final class PublishingPlaceholder: XCTestCase {
    func testPlaceholder() {}
}
