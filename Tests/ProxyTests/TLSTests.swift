import Demo
import Foundation
import NIOSSL
import XCTest

/// TLS on both sides: the listener picks its certificate by SNI, members are reached over
/// TLS verified against the farm's CA, and bytes that are not TLS only cost the connection
/// that sent them.
final class TLSTests: ProxyTestCase {
    static let dialin = try! TestPKI.internalCA.issue(commonName: "dialin.contoso.test", dnsNames: ["dialin.contoso.test"])
    static let wildcard = try! TestPKI.otherCA.issue(commonName: "*.lync.test", dnsNames: ["*.lync.test"])

    private func tlsYAML(member: String, farmTLS: String?, top: String = "") -> String {
        """
        listeners:
          - name: https
            address: 127.0.0.1
            port: 1
            tls: { certificates: [{ cert: "mem:webext.pem", key: "mem:webext.key" }, { cert: "mem:dialin.pem", key: "mem:dialin.key" }, { cert: "mem:wild.pem", key: "mem:wild.key" }] }
        farms:
          - { name: pool, members: ["\(member)"]\(farmTLS.map { ", tls: \($0)" } ?? "") }
        rules:
          - { name: web, public_names: [webext.contoso.test, dialin.contoso.test, "*.lync.test"], farm: pool }
        \(top)
        """
    }

    private var files: [String: [UInt8]] {
        TestPKI.files(
            ["webext": TestPKI.webext, "dialin": Self.dialin, "wild": Self.wildcard],
            cas: ["internal-ca": TestPKI.internalCA, "other-ca": TestPKI.otherCA]
        )
    }

    func testBridgesToTLSMemberVerifiedByFarmCA() throws {
        let backend = try startBackend(tls: TestPKI.pool) { _ in .send(RecordingBackend.ok("from-fe")) }
        let proxy = try startProxy(
            tlsYAML(member: backend.member, farmTLS: "{ ca: \"mem:internal-ca.pem\", server_name: pool.test }"),
            files: files
        )
        let client = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")
        for path in ["/one", "/two"] {
            try client.send(get(path))
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.bodyText, "from-fe")
        }
        XCTAssertEqual(backend.requests.count, 2)
        XCTAssertEqual(backend.requests.first?.values("x-forwarded-proto"), ["https"])
        XCTAssertEqual(backend.connectionCount, 1, "the TLS member connection is kept alive")
    }

    func testMemberCertificateFromAnotherCAGives502() throws {
        let backend = try startBackend(tls: TestPKI.pool)
        let proxy = try startProxy(
            tlsYAML(member: backend.member, farmTLS: "{ ca: \"mem:other-ca.pem\", server_name: pool.test }"),
            files: files
        )
        let client = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")
        try client.send(get("/"))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 502)
        XCTAssertEqual(response.bodyText, "502 Bad Gateway\n")
        XCTAssertEqual(backend.requests.count, 0, "no request may be sent over an unverified connection")
    }

    func testMemberCertificateForAnotherNameGives502() throws {
        let backend = try startBackend(tls: TestPKI.pool)
        let proxy = try startProxy(
            tlsYAML(member: backend.member, farmTLS: "{ ca: \"mem:internal-ca.pem\", server_name: other-pool.test }"),
            files: files
        )
        let client = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")
        try client.send(get("/"))
        XCTAssertEqual(try client.readResponse().status, 502)
        XCTAssertEqual(backend.requests.count, 0)
    }

    func testMemberGivenByAddressIsVerifiedByIPSAN() throws {
        // No server_name: the member's address itself must be in its certificate.
        let byAddress = try startBackend(tls: TestPKI.poolByAddress) { _ in .send(RecordingBackend.ok("by address")) }
        let proxy = try startProxy(tlsYAML(member: byAddress.member, farmTLS: "{ ca: \"mem:internal-ca.pem\" }"), files: files)
        let client = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")
        try client.send(get("/"))
        XCTAssertEqual(try client.readResponse().bodyText, "by address")

        let byName = try startBackend(tls: TestPKI.pool)
        let other = try startProxy(tlsYAML(member: byName.member, farmTLS: "{ ca: \"mem:internal-ca.pem\" }"), files: files)
        let second = try connectTLS(other.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")
        try second.send(get("/"))
        XCTAssertEqual(try second.readResponse().status, 502, "a certificate without the member's address must be refused")
        XCTAssertEqual(byName.requests.count, 0)
    }

    func testUnverifiedFarmAcceptsAnyMemberCertificate() throws {
        let backend = try startBackend(tls: Self.wildcard) { _ in .send(RecordingBackend.ok("unverified")) }
        let proxy = try startProxy(tlsYAML(member: backend.member, farmTLS: "{ verify: false }"), files: files)
        let client = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")
        try client.send(get("/"))
        XCTAssertEqual(try client.readResponse().bodyText, "unverified")
    }

    func testTrickledHeadOverTLSIsCut() throws {
        let backend = try startBackend()
        let proxy = try startProxy(tlsYAML(member: backend.member, farmTLS: nil, top: "timeouts: { request_head: 1s }"), files: files)
        let client = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")
        // 26 bytes, one every 100 ms: the connection is cut (1 s from the head's first byte)
        // before the last one is sent. A timer started again by each byte would not fire.
        let head = Array("GET / HTTP/1.1\r\nHost: webext".utf8)
        var sent = 0
        for byte in head where !client.isClosed {
            try? client.send([byte])
            sent += 1
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertTrue(client.waitForClose(timeout: 10))
        XCTAssertLessThan(sent, head.count, "cut while the head was still moving")
        XCTAssertEqual(backend.bytesReceived, 0)
    }

    func testSNIChoosesAmongThreeCertificates() throws {
        let backend = try startBackend()
        let proxy = try startProxy(tlsYAML(member: backend.member, farmTLS: nil), files: files)
        let cases: [(serverName: String?, ca: CertificateAuthority, certificate: IssuedCertificate)] = [
            ("webext.contoso.test", TestPKI.publicCA, TestPKI.webext),
            ("dialin.contoso.test", TestPKI.internalCA, Self.dialin),
            ("meet.lync.test", TestPKI.otherCA, Self.wildcard),
            ("DIALIN.contoso.test", TestPKI.internalCA, Self.dialin),
        ]
        for (serverName, ca, certificate) in cases {
            let client = try connectTLS(proxy.port, trusting: ca, serverName: serverName)
            let seen = try XCTUnwrap(client.peerCertificate).toDERBytes()
            XCTAssertEqual(seen, try NIOSSLCertificate(bytes: certificate.certificatePEMBytes, format: .pem).toDERBytes(), "SNI \(serverName ?? "none")")
            try client.send(get("/", host: serverName!))
            XCTAssertEqual(try client.readResponse().status, 200)
            client.close()
        }
        // A name the listener has no certificate for gets the first one, which this client
        // (trusting only the internal CA) must refuse.
        XCTAssertThrowsError(try connectTLS(proxy.port, trusting: TestPKI.internalCA, serverName: "unknown.contoso.test"))
    }

    func testCurlSeesTheCertificateForItsName() throws {
        let backend = try startBackend { request in .send(RecordingBackend.ok("curl:\(String(decoding: request.target, as: UTF8.self))")) }
        let proxy = try startProxy(tlsYAML(member: backend.member, farmTLS: nil), files: files)
        for (name, ca) in [("dialin.contoso.test", TestPKI.internalCA), ("webext.contoso.test", TestPKI.publicCA)] {
            let caFile = try TestPKI.writeTemporaryPEM(ca)
            defer { try? FileManager.default.removeItem(atPath: caFile) }
            let result = try runCurl([
                "--resolve", "\(name):\(proxy.port):127.0.0.1", "--cacert", caFile, "https://\(name):\(proxy.port)/abs/x?y=1",
            ])
            XCTAssertEqual(result.status, 0, result.error)
            XCTAssertEqual(result.output, "curl:/abs/x?y=1")
        }
        // Without SNI (an address in the URL) the first certificate is served.
        let bare = try runCurl(["-k", "-v", "https://127.0.0.1:\(proxy.port)/", "-H", "Host: webext.contoso.test"])
        XCTAssertEqual(bare.status, 0, bare.error)
        XCTAssertTrue(bare.error.contains("CN=webext.contoso.test"), bare.error)
        // The wrong CA for the name: curl must refuse the certificate.
        let caFile = try TestPKI.writeTemporaryPEM(TestPKI.publicCA)
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        let refused = try runCurl(["--resolve", "dialin.contoso.test:\(proxy.port):127.0.0.1", "--cacert", caFile, "https://dialin.contoso.test:\(proxy.port)/"])
        XCTAssertNotEqual(refused.status, 0)
    }

    func testGarbageAndPlainHTTPOnTLSListenerCloseOnlyThatConnection() throws {
        let backend = try startBackend()
        let proxy = try startProxy(tlsYAML(member: backend.member, farmTLS: nil), files: files, workers: 2)
        let busy = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")

        let garbage = try connect(proxy.port)
        try garbage.send((0..<600).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) })
        XCTAssertTrue(garbage.waitForClose(timeout: 3), "garbage must close the connection")

        let plain = try connect(proxy.port)
        try plain.send(get("/"))
        XCTAssertTrue(plain.waitForClose(timeout: 3), "plain HTTP on a TLS listener must close the connection")
        XCTAssertFalse(String(decoding: plain.unread, as: UTF8.self).contains("HTTP/1.1 200"))

        // Connections opened before and after still work.
        try busy.send(get("/before"))
        XCTAssertEqual(try busy.readResponse().status, 200)
        let fresh = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")
        try fresh.send(get("/after"))
        XCTAssertEqual(try fresh.readResponse().status, 200)
        XCTAssertEqual(backend.requests.map { String(decoding: $0.target, as: UTF8.self) }, ["/before", "/after"])
    }

    func testSilentTLSClientIsCutAfterHandshakeTimeout() throws {
        let backend = try startBackend()
        let proxy = try startProxy(tlsYAML(member: backend.member, farmTLS: nil, top: "timeouts: { tls_handshake: 1s }"), files: files)
        let silent = try connect(proxy.port)
        XCTAssertTrue(silent.waitForClose(timeout: 8), "the configured 1 s, not the default 10 s")
    }
}
