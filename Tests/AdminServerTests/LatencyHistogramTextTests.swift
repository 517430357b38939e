@testable import AdminServer
import XCTest

final class LatencyHistogramTextTests: XCTestCase {
    /// The histogram text on its own: label values escaped, bounds in their shortest form,
    /// an empty histogram all zeros.
    func testLatencyHistogramText() {
        var text = LatencyHistogramText(name: "x_seconds", help: "h")
        var histogram = TrafficCounters.histogram()
        histogram.record(3_000)  // 3 ms
        histogram.record(700_000)  // 0.7 s
        text.add(labels: [("rule", "a\"b\\c\nd")], histogram: histogram)
        text.add(labels: [("rule", "empty")], histogram: TrafficCounters.histogram())
        let lines = text.text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "# HELP x_seconds h")
        XCTAssertEqual(lines[1], "# TYPE x_seconds histogram")
        XCTAssertEqual(lines[2], #"x_seconds_bucket{rule="a\"b\\c\nd",le="0.005"} 1"#)
        XCTAssertTrue(lines.contains(#"x_seconds_bucket{rule="a\"b\\c\nd",le="0.5"} 1"#))
        XCTAssertTrue(lines.contains(#"x_seconds_bucket{rule="a\"b\\c\nd",le="1"} 2"#))
        XCTAssertTrue(lines.contains(#"x_seconds_count{rule="a\"b\\c\nd"} 2"#))
        XCTAssertTrue(lines.contains(#"x_seconds_bucket{rule="empty",le="+Inf"} 0"#))
        XCTAssertTrue(lines.contains(#"x_seconds_sum{rule="empty"} 0"#))
    }
}
