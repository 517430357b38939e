import Foundation
import Logging
import XCTest

@testable import Proxy

/// Record → line for `--log-format text` and `json`: what journald and a log collector get.
final class LogLineTests: XCTestCase {
    /// 2026-12-06T08:15:42.123Z
    let time: Int64 = 1_796_544_942_123

    func record(_ message: String, level: Logger.Level = .info, metadata: [String: String] = [:]) -> LogRecord {
        LogRecord(time: time, level: level, label: "edgesplit", message: message, metadata: metadata)
    }

    func parsed(_ line: String, file: StaticString = #filePath, line testLine: UInt = #line) throws -> [String: Any] {
        XCTAssertTrue(line.hasSuffix("}\n"), line, file: file, line: testLine)
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, "one line: \(line)", file: file, line: testLine)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return try XCTUnwrap(object, file: file, line: testLine)
    }

    func testJSONLineHasTheCoreFieldsFirstThenMetadataSortedByKey() throws {
        let line = LogFormat.json.line(for: record("listening", metadata: ["port": "8443", "listener": "https", "address": "127.0.0.1"]))
        XCTAssertEqual(
            line,
            #"{"time":"2026-12-06T08:15:42.123Z","level":"info","label":"edgesplit","message":"listening","address":"127.0.0.1","listener":"https","port":"8443"}"#
                + "\n")
        let object = try parsed(line)
        XCTAssertEqual(object["port"] as? String, "8443")
    }

    func testJSONEscapesQuotesBackslashesNewlinesAndControlCharacters() throws {
        let message = "refused:\n\"a\\b\"\ttab\r\u{0}\u{1B}[2J\u{7F}"
        let line = LogFormat.json.line(for: record(message, level: .error, metadata: ["path": "C:\\x \"y\"\n"]))
        XCTAssertTrue(line.contains(#""message":"refused:\n\"a\\b\"\ttab\r\u0000\u001b[2J\u007f""#), line)
        XCTAssertTrue(line.contains(#""path":"C:\\x \"y\"\n""#), line)
        let object = try parsed(line)
        XCTAssertEqual(object["message"] as? String, message)
        XCTAssertEqual(object["path"] as? String, "C:\\x \"y\"\n")
        XCTAssertEqual(object["level"] as? String, "error")
    }

    func testJSONKeepsNonASCIIAsUTF8() throws {
        let message = "member 'frontend-ü.contoso.com' — 日本 🙂"
        let line = LogFormat.json.line(for: record(message, metadata: ["名前": "é"]))
        XCTAssertTrue(line.contains(message), line)
        let object = try parsed(line)
        XCTAssertEqual(object["message"] as? String, message)
        XCTAssertEqual(object["名前"] as? String, "é")
    }

    func testMetadataCannotHideTheCoreFields() throws {
        let line = LogFormat.json.line(for: record("real", metadata: ["message": "forged", "level": "critical"]))
        let object = try parsed(line)
        XCTAssertEqual(object["message"] as? String, "real")
        XCTAssertEqual(object["level"] as? String, "info")
        XCTAssertEqual(object["metadata.message"] as? String, "forged")
        XCTAssertEqual(object["metadata.level"] as? String, "critical")
    }

    func testMetadataOrderIsStableWhateverTheDictionaryOrder() {
        var metadata: [String: String] = [:]
        for key in (0..<50).map({ "k\($0)" }).shuffled() { metadata[key] = "v" }
        let first = LogFormat.json.line(for: record("m", metadata: metadata))
        let keys = metadata.keys.sorted()
        XCTAssertEqual(first, LogFormat.json.line(for: record("m", metadata: Dictionary(uniqueKeysWithValues: keys.reversed().map { ($0, "v") }))))
        let positions = keys.map { first.range(of: "\"\($0)\":")!.lowerBound }
        XCTAssertEqual(positions, positions.sorted())
        let text = LogFormat.text.line(for: record("m", metadata: metadata))
        XCTAssertEqual(text, "edgesplit: m " + keys.map { "\($0)=v" }.joined(separator: " ") + "\n")
    }

    func testTextLineReadsAsTheCommandLineLinesDid() {
        XCTAssertEqual(
            LogFormat.text.line(for: record("serving instance 'lab' with 4 workers", level: .notice)),
            "edgesplit: serving instance 'lab' with 4 workers\n")
        XCTAssertEqual(
            LogFormat.text.line(for: record("cannot listen on 127.0.0.1:443: address already in use", level: .error)),
            "edgesplit: error: cannot listen on 127.0.0.1:443: address already in use\n")
        XCTAssertEqual(LogFormat.text.line(for: record("client affinity is off", level: .warning)), "edgesplit: warning: client affinity is off\n")
        XCTAssertEqual(LogFormat.text.line(for: record("probe", level: .debug)), "edgesplit: debug: probe\n")
        XCTAssertEqual(
            LogFormat.text.line(for: record("listening", metadata: ["port": "8443", "listener": "web"])),
            "edgesplit: listening listener=web port=8443\n")
    }

    func testTextQuotesValuesThatWouldNotSplitAndEscapesControlCharacters() {
        let line = LogFormat.text.line(
            for: record("two\nlines\u{1B}[2J\r", metadata: ["reason": "no route", "empty": "", "eq": "a=b", "plain": "ü"]))
        XCTAssertEqual(line, "edgesplit: two\nlines\\u001b[2J\\r empty=\"\" eq=\"a=b\" plain=ü reason=\"no route\"\n")
    }

    func testFlattenJoinsNestedKeysAndLaterLayersWin() {
        let fields = LogRecord.flatten([
            ["a": "handler", "b": "kept"],
            ["a": "call site", "peer": ["address": "192.0.2.7", "port": "443"], "list": ["x", "y"]],
        ])
        XCTAssertEqual(fields, ["a": "call site", "b": "kept", "peer.address": "192.0.2.7", "peer.port": "443", "list": #"["x", "y"]"#])
    }

    func testTimeIsISO8601UTCWithMilliseconds() {
        XCTAssertEqual(LogFormat.iso8601(milliseconds: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(LogFormat.iso8601(milliseconds: time), "2026-12-06T08:15:42.123Z")
        XCTAssertEqual(LogFormat.iso8601(milliseconds: 951_782_400_007), "2000-02-29T00:00:00.007Z")
    }

    /// The handler writes exactly the formatter's line, once, to its descriptor.
    func testHandlerWritesOneLinePerMessage() throws {
        var fds: [CInt] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]) }
        var logger = Logger(label: "edgesplit") { label in LogLineHandler(label: label, format: .json, logLevel: .info, descriptor: fds[1]) }
        logger[metadataKey: "instance"] = "lab"
        logger.debug("hidden")
        logger.info("shown", metadata: ["worker": "3"])
        close(fds[1])
        let output = String(decoding: FileHandle(fileDescriptor: fds[0]).readDataToEndOfFile(), as: UTF8.self)
        let lines = output.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, output)
        let object = try parsed(String(lines[0]) + "\n")
        XCTAssertEqual(object["message"] as? String, "shown")
        XCTAssertEqual(object["instance"] as? String, "lab")
        XCTAssertEqual(object["worker"] as? String, "3")
        XCTAssertNotNil(object["time"] as? String)
    }
}
