import Publishing
import XCTest

/// The `http2:` section: defaults, every key, and the diagnostics of bad values.
final class HTTP2ConfigTests: XCTestCase {
    private let base = minimalYAML + "\n"

    func testDefaultsWhenAbsent() throws {
        let config = try XCTUnwrap(load(base).config)
        XCTAssertEqual(config.http2, HTTP2Options())
        XCTAssertTrue(config.http2.enabled)
        XCTAssertEqual(config.http2.maxConcurrentStreams, 100)
        XCTAssertEqual(config.http2.maxHeaderListSize, 65536)
        XCTAssertEqual(config.http2.maxResetsPerSecond, 100)
    }

    func testEveryKey() throws {
        let yaml = base + "http2: { enabled: false, max_concurrent_streams: 8, max_header_list_size: 16KiB, max_resets_per_second: 20 }\n"
        let result = load(yaml)
        XCTAssertEqual(result.diagnostics.map(\.description), [])
        let options = try XCTUnwrap(result.config?.http2)
        XCTAssertEqual(options, HTTP2Options(enabled: false, maxConcurrentStreams: 8, maxHeaderListSize: 16384, maxResetsPerSecond: 20))
    }

    func testBadValuesPointAtTheirLine() {
        let yaml = base + """
        http2:
          enabled: sometimes
          max_concurrent_streams: 100000
          max_header_list_size: 12
          max_resets_per_second: 0
          max_streams: 5
        """
        let result = load(yaml)
        XCTAssertNil(result.config)
        XCTAssertEqual(result.diagnostics.map(\.description), [
            "edgesplit.yaml:8:12: error: http2.enabled: expected true or false, got 'sometimes'",
            "edgesplit.yaml:9:27: error: http2.max_concurrent_streams: expected an integer 1...10000, got '100000'",
            "edgesplit.yaml:10:25: error: http2.max_header_list_size: expected a size between 1024 and 16777216 bytes, got '12'",
            "edgesplit.yaml:11:26: error: http2.max_resets_per_second: expected an integer 1...100000, got '0'",
            "edgesplit.yaml:12:3: error: unknown key 'max_streams' in http2 (expected one of enabled, max_concurrent_streams, "
                + "max_header_list_size, max_resets_per_second)",
        ])
    }
}
