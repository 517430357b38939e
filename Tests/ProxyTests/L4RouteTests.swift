import Demo
import Crypto
import Foundation
import Proxy
import XCTest

/// L4 routes: names passed through by SNI to members that terminate TLS themselves, beside
/// L7 names on the same port; spliced in the kernel when the splice program loads (root),
/// copied in userspace otherwise.
final class L4RouteTests: ProxyTestCase {
    /// The member's own certificate, from a CA the listener side never uses.
    static let member = try! TestPKI.internalCA.issue(commonName: "sip.contoso.test", dnsNames: ["sip.contoso.test"])
    private static var instanceCount = 0

    private func yaml(member: String, web: String, kernel: Bool = false, proxyProtocol: Bool = false, idle: String? = nil) -> String {
        Self.instanceCount += 1
        return """
        \(kernel ? "instance: test-l4-\(getpid())-\(Self.instanceCount)" : "")
        listeners:
          - name: https
            address: 127.0.0.1
            port: 1
            tls: { certificates: [{ cert: "mem:webext.pem", key: "mem:webext.key" }] }
            l4_routes:
              - { name: sip, public_names: [sip.contoso.test, "*.pass.test"], farm: fe\(proxyProtocol ? ", proxy_protocol: v2" : "")\(idle.map { ", idle: \($0)" } ?? "") }
        farms:
          - { name: fe, members: ["\(member)"], persistence: source }
          - { name: web, members: ["\(web)"], persistence: none }
        rules:
          - { name: web, public_names: [webext.contoso.test], farm: web }
        """
    }

    private var files: [String: [UInt8]] { TestPKI.files(["webext": TestPKI.webext]) }

    private func requireRoot(file: StaticString = #filePath, line: UInt = #line) throws {
        guard geteuid() != 0 else { return }
        let reason = "needs root to load the BPF splice program; running as uid \(geteuid())"
        if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("CI=true: " + reason, file: file, line: line) }
        throw XCTSkip(reason)
    }

    private func route(_ proxy: ProxyHarness) throws -> ProxyServer.L4RouteStats {
        try XCTUnwrap(proxy.server.stats().wait().l4Routes.first)
    }

    /// A TLS session through the L4 route: the client trusts only the member's CA, so the
    /// handshake succeeds only if edgesplit passed it through untouched. An L7 name on the
    /// same port still gets edgesplit's certificate and rules.
    private func passthroughAndL7(kernel: Bool) throws -> ProxyHarness {
        let member = try startBackend(tls: Self.member) { _ in .send(RecordingBackend.ok("from-member")) }
        let web = try startBackend { _ in .send(RecordingBackend.ok("from-l7")) }
        let proxy = try startProxy(yaml(member: member.member, web: web.member, kernel: kernel), files: files, kernel: kernel)
        let client = try connectTLS(proxy.port, trusting: TestPKI.internalCA, serverName: "sip.contoso.test")
        for path in ["/one", "/two"] {
            try client.send(get(path, host: "sip.contoso.test"))
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.bodyText, "from-member")
        }
        XCTAssertEqual(member.requests.map { String(decoding: $0.target, as: UTF8.self) }, ["/one", "/two"])
        XCTAssertEqual(member.requests.first?.values("x-forwarded-for"), [], "the member got the client's bytes, not an L7 request")

        let l7 = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")
        try l7.send(get("/"))
        let response = try l7.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.bodyText, "from-l7")
        XCTAssertEqual(web.requests.count, 1)
        client.close()
        return proxy
    }

    func testPassthroughVerifiesTheMembersCertificateBesideL7InUserspace() throws {
        let proxy = try passthroughAndL7(kernel: false)
        let route = try route(proxy)
        XCTAssertEqual(route.counters.connections, 1)
        XCTAssertEqual(route.counters.fallbacks, 1)
        XCTAssertEqual(route.counters.spliced, 0)
        XCTAssertGreaterThan(route.counters.bytesCopied, 0)
    }

    func testPassthroughVerifiesTheMembersCertificateBesideL7SplicedInKernel() throws {
        try requireRoot()
        let proxy = try passthroughAndL7(kernel: true)
        let route = try route(proxy)
        XCTAssertEqual(route.counters.connections, 1)
        XCTAssertEqual(route.counters.spliced, 1)
        XCTAssertEqual(route.counters.fallbacks, 0)
        // The member's whole side of the handshake and both responses went through the kernel.
        XCTAssertGreaterThan(route.splicedToClient, 1000)
        XCTAssertGreaterThan(route.splicedToMember, 0)
    }

    /// `chunks` MiB each way at once, then each side ends its stream on its own: the client
    /// shuts its write side first and still receives the member's stream to the end.
    private func stream(kernel: Bool, chunks: Int, proxyProtocol: Bool = false) throws -> ProxyHarness {
        let listener = try StreamSocket.Listener()
        let web = try startBackend()
        let proxy = try startProxy(yaml(member: listener.member, web: web.member, kernel: kernel), files: files, kernel: kernel)
        let hello = clientHello(serverName: "sip.contoso.test")
        let up = ChunkStream(seed: 1, chunks: chunks)
        let down = ChunkStream(seed: 2, chunks: chunks)
        let expectedUp = up.digest
        let expectedDown = down.digest

        let client = try StreamSocket.connect(port: proxy.port)
        try client.send(hello)
        let member = try listener.accept()
        XCTAssertEqual(member.receive(exactly: hello.count), hello, "the member receives the ClientHello as sent")

        let group = DispatchGroup()
        nonisolated(unsafe) var memberReceived: (count: Int, digest: [UInt8])?
        nonisolated(unsafe) var clientReceived: (count: Int, digest: [UInt8])?
        nonisolated(unsafe) var errors: [String] = []
        let lock = NSLock()
        DispatchQueue.global().async(group: group) {
            do { try up.send(on: client) } catch { lock.withLock { errors.append("client send: \(error)") } }
            client.shutdownWrite()
        }
        DispatchQueue.global().async(group: group) {
            memberReceived = member.receiveToEnd()
            // Half-close: the client's end reached the member, which still sends its stream.
            do { try down.send(on: member) } catch { lock.withLock { errors.append("member send: \(error)") } }
            member.shutdownWrite()
        }
        DispatchQueue.global().async(group: group) {
            clientReceived = client.receiveToEnd()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 600), .success)
        XCTAssertEqual(errors, [])
        XCTAssertEqual(memberReceived?.count, up.byteCount)
        XCTAssertEqual(memberReceived?.digest, expectedUp, "client → member bytes intact and in order")
        XCTAssertEqual(clientReceived?.count, down.byteCount)
        XCTAssertEqual(clientReceived?.digest, expectedDown, "member → client bytes intact and in order")
        return proxy
    }

    /// The client ends its stream first; the member answers 8 MiB and ends its own while the
    /// client does not read, so edgesplit still holds bytes for the client when the member's end
    /// arrives. NIO closes the member's channel outright then (its output was already shut) and
    /// reports no end of input: every byte must still reach the client before its FIN.
    func testMemberEndWhileTheClientIsNotReadingLosesNothing() throws {
        let listener = try StreamSocket.Listener()
        let web = try startBackend()
        let proxy = try startProxy(yaml(member: listener.member, web: web.member), files: files)
        let hello = clientHello(serverName: "sip.contoso.test")
        let down = ChunkStream(seed: 3, chunks: 8)
        let client = try StreamSocket.connect(port: proxy.port)
        try client.send(hello)
        client.shutdownWrite()
        let member = try listener.accept()
        XCTAssertEqual(member.receiveToEnd()?.count, hello.count)
        let sender = DispatchGroup()
        DispatchQueue.global().async(group: sender) {
            try? down.send(on: member)
            member.shutdownWrite()
        }
        // Not read for a while: the member's bytes and its end wait inside edgesplit.
        Thread.sleep(forTimeInterval: 1)
        var received = 0
        var hash = SHA256()
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            hash.update(data: chunk[0..<n])
            received += n
        }
        XCTAssertEqual(sender.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(received, down.byteCount, "bytes the client got before edgesplit's FIN")
        XCTAssertEqual(Array(hash.finalize()), down.digest)
    }

    func testGibibyteEachWayWithHalfCloseSplicedInKernel() throws {
        try requireRoot()
        let proxy = try stream(kernel: true, chunks: 1024)
        let route = try route(proxy)
        XCTAssertEqual(route.counters.spliced, 1)
        // Everything after the ClientHello crossed in the kernel: proof by its counters.
        XCTAssertGreaterThanOrEqual(route.splicedToMember + route.counters.bytesCopied, UInt64(1 << 30))
        XCTAssertGreaterThanOrEqual(route.splicedToClient, UInt64(1 << 30) - route.counters.bytesCopied)
        XCTAssertLessThan(route.counters.bytesCopied, UInt64(1 << 20), "userspace handled only the handover")
    }

    /// A passed-through connection is closed after the route's `idle` without payload either
    /// way, also when the kernel splices its bytes (TCP's own last-data times tell); one that
    /// keeps talking stays.
    private func idleTimeout(kernel: Bool) throws {
        let member = try startBackend(tls: Self.member) { _ in .send(RecordingBackend.ok("from-member")) }
        let web = try startBackend()
        let proxy = try startProxy(yaml(member: member.member, web: web.member, kernel: kernel, idle: "1s"), files: files, kernel: kernel)
        let quiet = try connectTLS(proxy.port, trusting: TestPKI.internalCA, serverName: "sip.contoso.test")
        let busy = try connectTLS(proxy.port, trusting: TestPKI.internalCA, serverName: "sip.contoso.test")
        for client in [quiet, busy] {
            try client.send(get("/", host: "sip.contoso.test"))
            XCTAssertEqual(try client.readResponse().status, 200)
        }
        let start = Date()
        while Date().timeIntervalSince(start) < 2.5 {
            try busy.send(get("/again", host: "sip.contoso.test"))
            XCTAssertEqual(try busy.readResponse().status, 200)
            Thread.sleep(forTimeInterval: 0.3)
        }
        XCTAssertTrue(quiet.isClosed, "the idle connection was closed")
        XCTAssertFalse(busy.isClosed, "the busy connection is still open")
        XCTAssertEqual(try route(proxy).counters.idleClosed, 1)
        XCTAssertEqual(try route(proxy).counters.spliced, kernel ? 2 : 0)
    }

    func testIdleConnectionIsClosedInUserspace() throws {
        try idleTimeout(kernel: false)
    }

    func testIdleConnectionIsClosedSplicedInKernel() throws {
        try requireRoot()
        try idleTimeout(kernel: true)
    }

    func testUserspaceFallbackCopiesBothWaysWithHalfClose() throws {
        let proxy = try stream(kernel: false, chunks: 64)
        let route = try route(proxy)
        XCTAssertEqual(route.counters.fallbacks, 1)
        XCTAssertEqual(route.splicedToMember, 0)
        XCTAssertGreaterThanOrEqual(route.counters.bytesCopied, UInt64(2 * 64 << 20))
    }

    func testProxyProtocolV2HeaderPrecedesTheClientHello() throws {
        let listener = try StreamSocket.Listener()
        let web = try startBackend()
        let proxy = try startProxy(yaml(member: listener.member, web: web.member, proxyProtocol: true), files: files)
        let client = try StreamSocket.connect(port: proxy.port)
        let hello = clientHello(serverName: "x.pass.test")
        try client.send(hello)
        let member = try listener.accept()
        let header = member.receive(exactly: 28)
        XCTAssertEqual(Array(header.prefix(12)), [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])
        XCTAssertEqual(Array(header[12..<16]), [0x21, 0x11, 0x00, 12], "v2 PROXY, TCP over IPv4, 12 address bytes")
        XCTAssertEqual(Array(header[16..<24]), [127, 0, 0, 1, 127, 0, 0, 1])
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(client.fd, $0, &length) } }
        XCTAssertEqual(Int(header[24]) << 8 | Int(header[25]), Int(UInt16(bigEndian: local.sin_port)), "source: the client's port")
        XCTAssertEqual(Int(header[26]) << 8 | Int(header[27]), proxy.port, "destination: the listener's port")
        XCTAssertEqual(member.receive(exactly: hello.count), hello)
    }

    /// The committed corpus of malformed hellos (Tests/ClientHelloTests/Corpus), replayed to
    /// a running listener: each connection is closed and counted, and the worker serves on.
    func testMalformedClientHellosAreClosedAndCounted() throws {
        let member = try startBackend(tls: Self.member)
        let web = try startBackend()
        let proxy = try startProxy(yaml(member: member.member, web: web.member), files: files)
        // `ignoredServerName-*` hellos are valid (routed as without SNI): not replayed here.
        let inputs = try clientHelloCorpus("Corpus")
            .filter { $0.pathExtension == "bin" && !$0.lastPathComponent.hasPrefix("ignoredServerName-") }
        XCTAssertGreaterThanOrEqual(inputs.count, 19)
        for input in inputs {
            let client = try StreamSocket.connect(port: proxy.port)
            client.setTimeout(seconds: 10)
            try client.send([UInt8](try Data(contentsOf: input)))
            XCTAssertTrue(client.waitForEnd(), "\(input.lastPathComponent): the connection is closed")
        }
        let stats = try proxy.server.stats().wait()
        XCTAssertEqual(stats.workers.reduce(0) { $0 + $1.clientHelloMalformed }, UInt64(inputs.count))
        XCTAssertEqual(member.connectionCount, 0, "no malformed hello reached a member")
        try assertServesL7(proxy)
    }

    /// The listener still answers an L7 request for sip.contoso.test over TLS.
    private func assertServesL7(_ proxy: ProxyHarness, file: StaticString = #filePath, line: UInt = #line) throws {
        let client = try connectTLS(proxy.port, trusting: TestPKI.internalCA, serverName: "sip.contoso.test")
        try client.send(get("/", host: "sip.contoso.test"))
        XCTAssertEqual(try client.readResponse().status, 200, file: file, line: line)
    }

    /// The corpus `Scripts/fuzz` keeps for the ClientHello parser (Corpus/fuzz: valid,
    /// truncated and malformed hellos alike), each sent to a running listener and followed by
    /// the end of the client's stream: every connection ends, nothing crashes, and the
    /// listener serves on.
    func testFuzzedClientHellosEndAndTheListenerServesOn() throws {
        let member = try startBackend(tls: Self.member)
        let web = try startBackend()
        let proxy = try startProxy(yaml(member: member.member, web: web.member), files: files)
        let inputs = try clientHelloCorpus("Corpus/fuzz")
        XCTAssertGreaterThanOrEqual(inputs.count, 20)
        for input in inputs {
            let client = try StreamSocket.connect(port: proxy.port)
            client.setTimeout(seconds: 10)
            try? client.send([UInt8](try Data(contentsOf: input)))  // may be closed before the end
            client.shutdownWrite()
            XCTAssertTrue(client.waitForEnd(), "\(input.lastPathComponent): the connection ends")
        }
        let stats = try proxy.server.stats().wait()
        XCTAssertGreaterThan(stats.workers.reduce(0) { $0 + $1.clientHelloMalformed }, 0)
        try assertServesL7(proxy)
    }

    /// A hello whose host_name is an IP literal (wrk sends the address it connects to) is
    /// served as one without SNI: the default certificate, the L7 rules.
    func testAddressAsServerNameIsServedAsWithoutSNI() throws {
        let member = try startBackend(tls: Self.member)
        let web = try startBackend()
        let proxy = try startProxy(yaml(member: member.member, web: web.member), files: files)
        // Clients built on NIOSSL or curl never send an address as SNI: write the hello by hand.
        let client = try StreamSocket.connect(port: proxy.port)
        client.setTimeout(seconds: 10)
        try client.send(clientHello(serverName: "127.0.0.1"))
        let record = client.receive(exactly: 1)
        // The TLS stack answered (a handshake record, or an alert for this minimal hello's
        // offer): the hello went to TLS termination, not to a close as malformed.
        XCTAssertTrue(record == [22] || record == [21], "a TLS record, got \(record)")
        let stats = try proxy.server.stats().wait()
        XCTAssertEqual(stats.workers.reduce(0) { $0 + $1.clientHelloMalformed }, 0)
        XCTAssertEqual(member.connectionCount, 0)
    }

    /// The files of a folder under Tests/ClientHelloTests (the parser's committed corpora).
    private func clientHelloCorpus(_ folder: String) throws -> [URL] {
        let tests = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().deletingLastPathComponent()
        let corpus = tests.appendingPathComponent("ClientHelloTests").appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(at: corpus, includingPropertiesForKeys: nil)
    }

    /// A minimal valid ClientHello (TLS 1.3 suite, server_name only) in one record.
    private func clientHello(serverName: String) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
        let name = Array(serverName.utf8)
        let entry: [UInt8] = [0] + u16(name.count) + name
        let list = u16(entry.count) + entry
        let extensions = u16(0) + u16(list.count) + list
        let body: [UInt8] = [3, 3] + [UInt8](repeating: 7, count: 32) + [0] + u16(2) + [0x13, 0x01] + [1, 0]
            + u16(extensions.count) + extensions
        let handshake: [UInt8] = [1, 0] + u16(body.count) + body
        return [22, 3, 1] + u16(handshake.count) + handshake
    }
}
