import XCTest

final class ProxyPlaceholder: XCTestCase {
    func testPlaceholder() {}
}
