import Foundation
import XCTest

/// Many clients at once on two workers: every response belongs to its own request, and the
/// member sees each request exactly once.
final class ConcurrencyTests: ProxyTestCase {
    func testParallelClientsGetTheirOwnResponses() throws {
        let backend = try startBackend { request in
            .send(RecordingBackend.ok(String(decoding: request.target, as: UTF8.self) + "|" + String(decoding: request.body, as: UTF8.self)))
        }
        let path = NSTemporaryDirectory() + "edgesplit-access-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let proxy = try startProxy(
            simpleYAML(members: [backend.member], top: "access_log: { path: \"\(path)\", format: json }"),
            workers: 2
        )
        let clients = 16
        let perClient = 20
        let failures = NSLock()
        nonisolated(unsafe) var problems: [String] = []
        DispatchQueue.concurrentPerform(iterations: clients) { c in
            do {
                let client = try TestClient(port: proxy.port)
                defer { client.close() }
                for r in 0..<perClient {
                    let body = String(repeating: "b", count: (c * 7 + r) % 50)
                    if r % 2 == 0 {
                        try client.send(get("/c\(c)/r\(r)"))
                        let response = try client.readResponse()
                        if response.bodyText != "/c\(c)/r\(r)|" { failures.withLock { problems.append("c\(c) r\(r): \(response.bodyText)") } }
                    } else {
                        try client.send("POST /c\(c)/r\(r) HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
                        let response = try client.readResponse()
                        if response.bodyText != "/c\(c)/r\(r)|\(body)" { failures.withLock { problems.append("c\(c) r\(r): \(response.bodyText)") } }
                    }
                }
            } catch {
                failures.withLock { problems.append("client \(c): \(error)") }
            }
        }
        XCTAssertEqual(problems, [])
        XCTAssertEqual(backend.requests.count, clients * perClient)
        XCTAssertEqual(Set(backend.requests.map(\.target)).count, clients * perClient)
        XCTAssertLessThanOrEqual(backend.connectionCount, clients, "member connections are reused")
        proxy.stop()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, clients * perClient, "one access-log line per exchange, none torn")
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") })
    }
}
