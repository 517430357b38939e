import Demo
import Foundation
import XCTest

/// Base for end-to-end tests: everything a test starts is stopped in teardown, also when
/// the test fails or throws (teardown blocks run last-in first-out, so the proxy stops
/// before the backends it talks to).
class ProxyTestCase: XCTestCase {
    /// The public name every simple configuration publishes.
    static let publicName = "webext.contoso.test"

    func startBackend(
        host: String = "127.0.0.1",
        tls: IssuedCertificate? = nil,
        readPaused: Bool = false,
        respond: @escaping @Sendable (RecordingBackend.Request) -> RecordingBackend.Reply = { _ in .send(RecordingBackend.ok("ok")) }
    ) throws -> RecordingBackend {
        let backend = try RecordingBackend(host: host, tls: tls, readPaused: readPaused, respond: respond)
        addTeardownBlock { backend.stop() }
        return backend
    }

    /// A backend that may write interim bytes (100 Continue) as soon as a head arrives.
    func startBackend(
        tls: IssuedCertificate? = nil,
        onHead: @escaping @Sendable (RecordingBackend.Request) -> [UInt8]?,
        respond: @escaping @Sendable (RecordingBackend.Request) -> RecordingBackend.Reply
    ) throws -> RecordingBackend {
        let backend = try RecordingBackend(tls: tls, onHead: onHead, respond: respond)
        addTeardownBlock { backend.stop() }
        return backend
    }

    func startProxy(
        _ yaml: String, files: [String: [UInt8]] = [:], workers: Int = 1, kernel: Bool = false,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> ProxyHarness {
        let proxy = try ProxyHarness(yaml: yaml, files: files, workers: workers, kernel: kernel, file: file, line: line)
        addTeardownBlock { proxy.stop() }
        return proxy
    }

    func connect(_ port: Int) throws -> TestClient {
        let client = try TestClient(port: port)
        addTeardownBlock { client.close() }
        return client
    }

    /// A plain connection from `source` (a 127.0.0.0/8 address bound before connecting).
    func connect(_ port: Int, from source: String) throws -> TestClient {
        let client = try TestClient(port: port, from: source)
        addTeardownBlock { client.close() }
        return client
    }

    func connectTLS(_ port: Int, trusting ca: CertificateAuthority, serverName: String?, from source: String? = nil) throws -> TestClient {
        let client = try TestClient(port: port, from: source, tls: try TestPKI.clientContext(trusting: ca), serverName: serverName)
        addTeardownBlock { client.close() }
        return client
    }

    /// One plain-HTTP listener, one farm of `members`, one allow rule for `publicName`.
    /// `rule`, `farm` and `top` are extra YAML flow-mapping entries / top-level lines.
    func simpleYAML(members: [String], farm: String = "", rule: String = "", top: String = "") -> String {
        let list = members.map { "\"\($0)\"" }.joined(separator: ", ")
        return """
        listeners:
          - { name: http, address: 127.0.0.1, port: 1 }
        farms:
          - { name: pool, members: [\(list)], persistence: none\(farm.isEmpty ? "" : ", " + farm) }
        rules:
          - { name: web, public_names: [\(Self.publicName)], farm: pool\(rule.isEmpty ? "" : ", " + rule) }
        \(top)
        """
    }

    /// A GET with Host and extra field lines.
    func get(_ target: String, host: String = ProxyTestCase.publicName, headers: [String] = [], version: String = "1.1") -> String {
        var lines = ["GET \(target) HTTP/\(version)", "Host: \(host)"]
        lines += headers
        return lines.joined(separator: "\r\n") + "\r\n\r\n"
    }

    /// Sends one request on a fresh connection and reads the response.
    func exchange(_ port: Int, _ request: String) throws -> TestResponse {
        let client = try connect(port)
        defer { client.close() }
        try client.send(request)
        return try client.readResponse()
    }
}
