import Foundation
import XCTest

/// The access log has one line per exchange with the rule, farm, member and worker that
/// handled it, as an operator needs them to trace a request.
final class AccessLogTests: ProxyTestCase {
    func testJSONLinesCarryRuleFarmMemberWorkerAndStatus() throws {
        let path = NSTemporaryDirectory() + "edgesplit-access-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let backend = try startBackend()
        let proxy = try startProxy(
            """
            access_log: { path: "\(path)", format: json }
            listeners:
              - { name: http, address: 127.0.0.1, port: 1 }
            farms:
              - { name: pool, members: ["\(backend.member)"] }
            rules:
              - { name: admin, public_names: [admin.contoso.test], action: deny }
              - { name: web, public_names: [webext.contoso.test], farm: pool }
            """,
            workers: 2
        )
        XCTAssertEqual(try exchange(proxy.port, get("/abs/file?x=1")).status, 200)
        XCTAssertEqual(try exchange(proxy.port, get("/", host: "admin.contoso.test")).status, 403)
        XCTAssertEqual(try exchange(proxy.port, get("/", host: "nobody.contoso.test")).status, 404)
        proxy.stop()

        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, text)
        let records = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let byStatus = Dictionary(records.map { (($0["sc-status"] as? Int) ?? 0, $0) }, uniquingKeysWith: { a, _ in a })

        let ok = try XCTUnwrap(byStatus[200])
        XCTAssertEqual(ok["rule"] as? String, "web")
        XCTAssertEqual(ok["farm"] as? String, "pool")
        XCTAssertEqual(ok["member"] as? String, backend.member)
        XCTAssertEqual(ok["cs-uri-stem"] as? String, "/abs/file")
        XCTAssertEqual(ok["cs-uri-query"] as? String, "x=1")
        XCTAssertEqual(ok["cs-host"] as? String, "webext.contoso.test")
        XCTAssertEqual(ok["c-ip"] as? String, "127.0.0.1")
        XCTAssertTrue([0, 1].contains(ok["worker"] as? Int ?? -1))

        let denied = try XCTUnwrap(byStatus[403])
        XCTAssertEqual(denied["rule"] as? String, "admin")
        XCTAssertEqual(denied["farm"] as? String, "")
        XCTAssertEqual(denied["member"] as? String, "")

        let missing = try XCTUnwrap(byStatus[404])
        XCTAssertEqual(missing["rule"] as? String, "")
        for record in records {
            XCTAssertNotNil(record["worker"] as? Int)
            XCTAssertNotNil(record["time-taken"] as? Int)
        }
    }

    func testW3CLinesFollowTheirFieldsHeader() throws {
        let path = NSTemporaryDirectory() + "edgesplit-access-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], top: "access_log: { path: \"\(path)\", format: w3c }"))
        XCTAssertEqual(try exchange(proxy.port, get("/meet/a b?x=1".replacingOccurrences(of: " ", with: "%20"))).status, 200)
        proxy.stop()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let fieldsLine = try XCTUnwrap(lines.first { $0.hasPrefix("#Fields: ") })
        let names = fieldsLine.dropFirst("#Fields: ".count).split(separator: " ").map(String.init)
        let entries = lines.filter { !$0.hasPrefix("#") }
        XCTAssertEqual(entries.count, 1)
        let values = entries[0].split(separator: " ").map(String.init)
        XCTAssertEqual(values.count, names.count, entries[0])
        let record = Dictionary(uniqueKeysWithValues: zip(names, values))
        XCTAssertEqual(record["sc-status"], "200")
        XCTAssertEqual(record["rule"], "web")
        XCTAssertEqual(record["farm"], "pool")
        XCTAssertEqual(record["member"], backend.member)
        XCTAssertEqual(record["worker"], "0")
        XCTAssertEqual(record["cs-uri-stem"], "/meet/a%20b")
        XCTAssertEqual(record["cs-uri-query"], "x=1")
    }
}
