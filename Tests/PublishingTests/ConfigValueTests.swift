import Publishing
import XCTest

final class ConfigValueTests: XCTestCase {
    func testDurations() throws {
        let table: [(String, Duration)] = [
            ("500ms", .milliseconds(500)), ("5s", .seconds(5)), ("15m", .seconds(900)), ("1h", .seconds(3600)),
            ("960", .seconds(960)), ("0", .zero), (" 30s ", .seconds(30)), ("10 s", .seconds(10)),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try ConfigValue.duration(text), expected, text)
        }
        for bad in ["", "s", "5x", "-1s", "1.5s", "5sec", "1h30m", "9999999999999s"] {
            XCTAssertThrowsError(try ConfigValue.duration(bad), bad)
        }
        XCTAssertEqual(ConfigValue.format(.seconds(960)), "16m")
        XCTAssertEqual(ConfigValue.format(.seconds(1800)), "30m")
        XCTAssertEqual(ConfigValue.format(.seconds(3600)), "1h")
        XCTAssertEqual(ConfigValue.format(.seconds(5)), "5s")
        XCTAssertEqual(ConfigValue.format(.milliseconds(500)), "500ms")
        XCTAssertEqual(ConfigValue.format(.zero), "0s")
    }

    func testSizes() throws {
        let table: [(String, UInt64)] = [
            ("65536", 65536), ("16KiB", 16384), ("64KiB", 65536), ("500MiB", 500 << 20), ("1GiB", 1 << 30),
            ("30KB", 30_000), ("30MB", 30_000_000), ("2GB", 2_000_000_000), ("10B", 10), ("1 kib", 1024),
        ]
        for (text, expected) in table {
            XCTAssertEqual(try ConfigValue.size(text), expected, text)
        }
        for bad in ["", "KiB", "1TiB", "-5", "1.5MiB", "18446744073709551615GiB", "99999999999999999999"] {
            XCTAssertThrowsError(try ConfigValue.size(bad), bad)
        }
    }
}
