import AdminServer
import Foundation
import HTTP1
import NIOCore
import Proxy
import XCTest

/// HTTP/2 towards clients (ALPN `h2`) with HTTP/1.1 members: real curl and nghttp clients,
/// and a raw frame writer for what no polite client does. Every stream must reach the member
/// as the HTTP/1.1 request the same rules would have produced, NTLM must push the client back
/// to HTTP/1.1, and each limit must act and be counted.
final class HTTP2Tests: ProxyTestCase {
    static let name = ProxyTestCase.publicName
    private var caFile = ""

    override func setUpWithError() throws {
        caFile = try TestPKI.writeTemporaryPEM(TestPKI.publicCA)
        addTeardownBlock { [caFile] in try? FileManager.default.removeItem(atPath: caFile) }
    }

    /// One TLS listener, one farm, the allow rule `web` (after `rulesBefore`, whole rule lines).
    private func yaml(members: [String], persistence: String = "none", rulesBefore: String = "", top: String = "") -> String {
        """
        listeners:
          - name: https
            address: 127.0.0.1
            port: 1
            tls: { certificates: [{ cert: "mem:webext.pem", key: "mem:webext.key" }] }
        farms:
          - { name: pool, members: [\(members.map { "\"\($0)\"" }.joined(separator: ", "))], persistence: \(persistence)\(persistence == "cookie" ? ", cookie_key: \"a-secret-of-sixteen+\"" : "") }
        rules:
        \(rulesBefore)
          - { name: web, public_names: [\(Self.name)], farm: pool }
        \(top)
        """
    }

    private func start(_ yaml: String) throws -> ProxyHarness {
        try startProxy(yaml, files: TestPKI.files(["webext": TestPKI.webext]))
    }

    /// curl over HTTP/2 only (it fails rather than silently use HTTP/1.1 without ALPN h2).
    private func curl(_ proxy: ProxyHarness, _ path: String, _ extra: [String] = [], input: String? = nil) throws -> (status: Int32, output: String, error: String) {
        try runProgram("/usr/bin/curl", [
            "--silent", "--show-error", "--http2", "--max-time", "10", "--cacert", caFile,
            "--resolve", "\(Self.name):\(proxy.port):127.0.0.1",
        ] + extra + ["https://\(Self.name):\(proxy.port)\(path)"], input: input)
    }

    private func stats(_ proxy: ProxyHarness) throws -> HTTP2Counters {
        var total = HTTP2Counters()
        for worker in try proxy.server.stats().wait().workers { total.add(worker.http2) }
        return total
    }

    private func raw(_ proxy: ProxyHarness) throws -> RawHTTP2Client {
        let client = try RawHTTP2Client(port: proxy.port, trusting: TestPKI.publicCA, serverName: Self.name)
        addTeardownBlock { client.close() }
        try client.acknowledgeSettings()
        return client
    }

    // MARK: Routing and fidelity

    func testCurlSpeaksHTTP2AndTheMemberGetsTheSameHTTP11Request() throws {
        let backend = try startBackend { request in
            .send(RecordingBackend.ok(
                "h2:\(String(decoding: request.target, as: UTF8.self))",
                headers: ["Set-Cookie: a=1", "Set-Cookie: b=2", "Connection: keep-alive, X-Hop", "Keep-Alive: timeout=5",
                          "X-Hop: 1", "X-Member: yes"]
            ))
        }
        let proxy = try start(yaml(members: [backend.member]))
        let result = try curl(proxy, "/abs/x%2Fy?q=1", [
            "-D", "-", "-w", "|%{http_version}", "-H", "Cookie: c=1", "-H", "Cookie: d=2",
            "-H", "X-Forwarded-For: 203.0.113.9", "-H", "X-Forwarded-Proto: http", "-H", "X-MS-WebTicket: opaque",
        ])
        XCTAssertEqual(result.status, 0, result.error)
        let output = result.output.replacingOccurrences(of: "\r\n", with: "\n")
        XCTAssertTrue(output.hasPrefix("HTTP/2 200"), output)
        XCTAssertTrue(output.contains("\nset-cookie: a=1\nset-cookie: b=2\n"), output)
        XCTAssertTrue(output.contains("\nx-member: yes\n"), output)
        XCTAssertFalse(output.contains("keep-alive") || output.contains("x-hop") || output.contains("connection:"), output)
        XCTAssertTrue(output.hasSuffix("\nh2:/abs/x%2Fy?q=1|2"), output)

        let request = try XCTUnwrap(backend.requests.first)
        XCTAssertTrue(request.headText.hasPrefix("GET /abs/x%2Fy?q=1 HTTP/1.1\r\n"), request.headText)
        // forward_original_host: the client's :authority, as curl sends it (with the port).
        XCTAssertEqual(request.values("host"), ["\(Self.name):\(proxy.port)"])
        XCTAssertEqual(request.values("x-forwarded-for"), ["203.0.113.9, 127.0.0.1"])
        XCTAssertEqual(request.values("x-forwarded-proto"), ["https"])
        XCTAssertEqual(request.values("x-ms-webticket"), ["opaque"])
        // HTTP/2 may split cookies; HTTP/1.1 members get one Cookie line (RFC 9113 §8.2.3).
        XCTAssertEqual(request.values("cookie"), ["c=1; d=2"])

        let counters = try stats(proxy)
        XCTAssertEqual(counters.connections, 1)
        XCTAssertEqual(counters.streams, 1)
        let listener = try proxy.server.stats().wait().listeners[0].traffic
        XCTAssertEqual(listener.requests, 1)
        XCTAssertEqual(listener.statusClasses[1], 1)
    }

    func testUnpublishedNameAndDeniedPathAreAnsweredOnTheStream() throws {
        let backend = try startBackend()
        let proxy = try start(yaml(
            members: [backend.member],
            rulesBefore: "  - { name: no-admin, public_names: [\(Self.name)], paths: [\"/admin/*\"], action: deny }"
        ))
        let unknown = try curl(proxy, "/", ["-o", "/dev/null", "-w", "%{http_code} %{http_version}", "-H", "Host: nobody.contoso.test"])
        XCTAssertEqual(unknown.output, "404 2", unknown.error)
        let denied = try curl(proxy, "/admin/x", ["-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
        XCTAssertEqual(denied.output, "403 2", denied.error)
        // The rules see the path the member will: the same plan as HTTP/1.1.
        for (path, status) in [("/%61dmin/x", "403"), ("/x/../admin/x", "403"), ("/admin%2Fx", "400")] {
            let bypass = try curl(proxy, path, ["--path-as-is", "-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
            XCTAssertEqual(bypass.output, "\(status) 2", "\(path): \(bypass.error)")
        }
        XCTAssertEqual(backend.requests.count, 0)
    }

    func testBodiesStreamBothWaysWithAndWithoutLength() throws {
        let big = String(repeating: "0123456789abcdef", count: 64 * 1024)  // 1 MiB
        let backend = try startBackend { request in
            .send(RecordingBackend.ok(request.values("transfer-encoding").isEmpty ? big : "chunked"))
        }
        let proxy = try start(yaml(members: [backend.member]))
        let file = NSTemporaryDirectory() + "edgesplit-h2-body-\(UUID().uuidString)"
        try big.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }

        // A known length: forwarded with its content-length; a 1 MiB response comes back.
        let sized = try curl(proxy, "/upload", ["--data-binary", "@\(file)"])
        XCTAssertEqual(sized.status, 0, sized.error)
        XCTAssertEqual(sized.output.count, big.count)
        XCTAssertTrue(sized.output == big)
        let first = try XCTUnwrap(backend.requests.first)
        XCTAssertEqual(first.values("content-length"), [String(big.utf8.count)])
        XCTAssertEqual(first.body, Array(big.utf8))

        // From a pipe: no length, so the member receives it chunked, payload intact.
        let piped = try curl(proxy, "/upload", ["-T", "-"], input: file)
        XCTAssertEqual(piped.status, 0, piped.error)
        XCTAssertEqual(piped.output, "chunked")
        let second = try XCTUnwrap(backend.requests.last)
        XCTAssertEqual(second.parsed.methodString, "PUT")
        XCTAssertEqual(second.values("transfer-encoding"), ["chunked"])
        var framer = BodyFramer(.chunked)
        var payload: [UInt8] = []
        let progress = try second.body.withUnsafeBytes { try framer.consume($0) }
        XCTAssertTrue(progress.isComplete)
        for range in progress.payload { payload += second.body[range] }
        XCTAssertEqual(payload, Array(big.utf8))
    }

    func testNghttpMultiplexesStreamsOnOneConnection() throws {
        let backend = try startBackend { request in .send(RecordingBackend.ok("[\(String(decoding: request.target, as: UTF8.self))]")) }
        let proxy = try start(yaml(members: [backend.member]))
        let paths = (1...8).map { "/stream/\($0)" }
        let result = try runProgram("/usr/bin/nghttp", ["-H", ":authority: \(Self.name)"] + paths.map { "https://127.0.0.1:\(proxy.port)\($0)" })
        XCTAssertEqual(result.status, 0, result.error)
        for path in paths { XCTAssertTrue(result.output.contains("[\(path)]"), result.output) }
        XCTAssertEqual(Set(backend.requests.map { String(decoding: $0.target, as: UTF8.self) }), Set(paths))
        let counters = try stats(proxy)
        XCTAssertEqual(counters.connections, 1, "nghttp sent all streams on one connection")
        XCTAssertEqual(counters.streams, UInt64(paths.count))
    }

    func testCookiePersistenceWorksOverHTTP2() throws {
        let a = try startBackend { _ in .send(RecordingBackend.ok("a")) }
        let b = try startBackend { _ in .send(RecordingBackend.ok("b")) }
        let proxy = try start(yaml(members: [a.member, b.member], persistence: "cookie"))
        let jar = NSTemporaryDirectory() + "edgesplit-h2-jar-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: jar) }
        let first = try curl(proxy, "/", ["-D", "-", "-c", jar])
        XCTAssertEqual(first.status, 0, first.error)
        XCTAssertTrue(first.output.lowercased().contains("set-cookie: ms-wsman="), first.output)
        let chosen = first.output.hasSuffix("a") ? "a" : "b"
        for _ in 0..<4 {
            let again = try curl(proxy, "/", ["-D", "-", "-b", jar])
            XCTAssertTrue(again.output.hasSuffix(chosen), again.output)
            XCTAssertFalse(again.output.lowercased().contains("set-cookie"), "a valid cookie gets no new one")
        }
    }

    func testEveryStreamIsOneAccessLogLine() throws {
        let path = NSTemporaryDirectory() + "edgesplit-h2-access-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let backend = try startBackend()
        let proxy = try start(yaml(members: [backend.member], top: "access_log: { path: \"\(path)\", format: json }"))
        let paths = ["/abs/a?x=1", "/abs/b", "/abs/c"]
        let result = try runProgram("/usr/bin/nghttp", ["-H", ":authority: \(Self.name)"] + paths.map { "https://127.0.0.1:\(proxy.port)\($0)" })
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertEqual(try curl(proxy, "/", ["-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: nobody.contoso.test"]).output, "404")
        proxy.stop()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let records = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(records.count, 4)
        let served = records.filter { ($0["sc-status"] as? Int) == 200 }
        XCTAssertEqual(Set(served.map { $0["cs-uri-stem"] as? String ?? "" }), ["/abs/a", "/abs/b", "/abs/c"])
        XCTAssertEqual(Set(served.map { $0["rule"] as? String ?? "" }), ["web"])
        XCTAssertEqual(Set(served.map { $0["member"] as? String ?? "" }), [backend.member])
        XCTAssertEqual(records.filter { ($0["sc-status"] as? Int) == 404 }.count, 1)
    }

    // MARK: Connection lifecycle

    func testReloadSendsGOAWAYAndTheOpenStreamFinishes() throws {
        let backend = try startBackend { _ in .sendAfter(0.5, RecordingBackend.ok("slow")) }
        let config = yaml(members: [backend.member], top: "timeouts: { drain: 10s }")
        let proxy = try start(config)
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.get(stream: 1, authority: Self.name, path: "/slow"))
        XCTAssertTrue(backend.waitForRequests(1))
        XCTAssertEqual(try proxy.reload(yaml: config, files: TestPKI.files(["webext": TestPKI.webext])), 2)
        let frames = client.framesUntilClose()
        XCTAssertTrue(frames.contains { $0.type == RawHTTP2Client.Frame.goAway && $0.errorCode == 0 }, "\(frames.map(\.type))")
        let response = frames.filter { $0.stream == 1 }
        XCTAssertEqual(response.first?.type, RawHTTP2Client.Frame.headers)
        XCTAssertEqual(response.last.map { $0.flags & 1 }, 1, "the stream ended normally")
        XCTAssertEqual(RawHTTP2Client.body(frames, stream: 1), "slow")
        XCTAssertTrue(client.connection.isClosed, "closed once its stream finished")
    }

    func testIdleConnectionIsClosedWithGOAWAY() throws {
        let backend = try startBackend()
        let proxy = try start(yaml(members: [backend.member], top: "timeouts: { request_head: 1s }"))
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.get(stream: 1, authority: Self.name, path: "/"))
        let frames = client.framesUntilClose()
        XCTAssertEqual(frames.filter { $0.stream == 1 }.last.map { $0.flags & 1 }, 1, "the request was answered")
        XCTAssertTrue(frames.contains { $0.type == RawHTTP2Client.Frame.goAway }, "\(frames.map(\.type))")
        XCTAssertTrue(client.connection.isClosed)
    }

    // MARK: NTLM

    func testNTLMChallengeMakesCurlRetryOverHTTP11() throws {
        let backend = try startBackend { _ in
            .send(RecordingBackend.response(status: "401 Unauthorized", headers: ["WWW-Authenticate: Negotiate", "WWW-Authenticate: NTLM"]))
        }
        let proxy = try start(yaml(members: [backend.member]))
        let result = try curl(proxy, "/WebTicket/WebTicketService.svc", ["-D", "-", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "-v"])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.hasSuffix("401 1.1"), "curl did not fall back to HTTP/1.1: \(result.output)\n\(result.error)")
        XCTAssertTrue(result.output.contains("WWW-Authenticate: NTLM"), result.output)
        XCTAssertTrue(result.error.contains("HTTP_1_1_REQUIRED"), result.error)
        XCTAssertEqual(backend.requests.count, 2, "once over HTTP/2 (reset), once over HTTP/1.1")
        XCTAssertEqual(try stats(proxy).http11Required, 1)
    }

    func testNTLMCredentialsOnAStreamAreResetBeforeReachingTheMember() throws {
        let backend = try startBackend()
        let proxy = try start(yaml(members: [backend.member]))
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.get(
            stream: 1, authority: Self.name, path: "/", extra: [("authorization", "NTLM TlRMTVNTUAABAAAA")]
        ))
        var reset: RawHTTP2Client.Frame?
        while let frame = try client.readFrame() {
            if frame.type == RawHTTP2Client.Frame.rstStream {
                reset = frame
                break
            }
        }
        XCTAssertEqual(reset?.stream, 1)
        XCTAssertEqual(reset?.errorCode, 0xd, "HTTP_1_1_REQUIRED")
        XCTAssertEqual(backend.requests.count, 0)
        XCTAssertEqual(try stats(proxy).http11Required, 1)
    }

    // MARK: Limits

    func testRapidResetGetsGOAWAYAndIsCounted() throws {
        let backend = try startBackend { request in
            String(decoding: request.target, as: UTF8.self) == "/stall" ? .stall : .send(RecordingBackend.ok("fine"))
        }
        let proxy = try start(yaml(members: [backend.member], top: "http2: { max_resets_per_second: 20 }"))
        let attacker = try raw(proxy)
        var burst: [UInt8] = []
        for i in 0..<200 {
            let stream = UInt32(2 * i + 1)
            burst += RawHTTP2Client.get(stream: stream, authority: Self.name, path: "/stall") + RawHTTP2Client.reset(stream: stream)
        }
        try? attacker.connection.send(burst)
        let frames = attacker.framesUntilClose()
        let goAway = frames.last { $0.type == RawHTTP2Client.Frame.goAway }
        XCTAssertEqual(goAway?.errorCode, 0xb, "ENHANCE_YOUR_CALM; frames: \(frames.map { ($0.type, $0.errorCode ?? 0) })")
        XCTAssertTrue(attacker.connection.isClosed)
        XCTAssertEqual(try stats(proxy).rapidResetCloses, 1)
        // Everyone else is served as before.
        XCTAssertEqual(try curl(proxy, "/").output, "fine")
    }

    func testAClientExceedingTheConcurrencyLimitIsClosed() throws {
        let backend = try startBackend { _ in .stall }
        let proxy = try start(yaml(members: [backend.member], top: "http2: { max_concurrent_streams: 2 }"))
        let client = try raw(proxy)
        for stream: UInt32 in [1, 3] {
            try client.connection.send(RawHTTP2Client.get(stream: stream, authority: Self.name, path: "/s\(stream)"))
        }
        XCTAssertTrue(backend.waitForRequests(2))
        try client.connection.send(RawHTTP2Client.get(stream: 5, authority: Self.name, path: "/s5"))
        let frames = client.framesUntilClose()
        let goAway = frames.last { $0.type == RawHTTP2Client.Frame.goAway }
        XCTAssertEqual(goAway?.errorCode, 0x1, "PROTOCOL_ERROR; frames: \(frames.map { ($0.type, $0.errorCode ?? 0) })")
        XCTAssertTrue(client.connection.isClosed)
        XCTAssertEqual(backend.requests.count, 2)
        XCTAssertEqual(try stats(proxy).streamLimitCloses, 1)
    }

    /// Streams count per source over all its connections (`limits.concurrent_streams`): two
    /// connections of one client with two open streams each, limit 3, so the fourth stream is
    /// refused with REFUSED_STREAM — the connection stays, and a stream opened after one ended
    /// is taken again.
    func testStreamsOverTheSourcesLimitAreRefusedAcrossConnections() throws {
        let backend = try startBackend { request in
            String(decoding: request.target, as: UTF8.self).hasPrefix("/quick") ? .send(RecordingBackend.ok("quick")) : .stall
        }
        let proxy = try start(yaml(members: [backend.member], top: "limits: { concurrent_streams: 3 }"))
        let first = try raw(proxy)
        let second = try raw(proxy)
        for stream: UInt32 in [1, 3] {
            try first.connection.send(RawHTTP2Client.get(stream: stream, authority: Self.name, path: "/slow\(stream)"))
        }
        XCTAssertTrue(backend.waitForRequests(2))
        try second.connection.send(RawHTTP2Client.get(stream: 1, authority: Self.name, path: "/slow-other"))
        XCTAssertTrue(backend.waitForRequests(3))
        try second.connection.send(RawHTTP2Client.get(stream: 3, authority: Self.name, path: "/refused"))
        var refused: RawHTTP2Client.Frame?
        while refused == nil, let frame = try second.readFrame() {
            if frame.type == RawHTTP2Client.Frame.rstStream { refused = frame }
        }
        XCTAssertEqual(refused?.stream, 3)
        XCTAssertEqual(refused?.errorCode, 0x7, "REFUSED_STREAM")
        XCTAssertEqual(backend.requests.count, 3, "the refused stream never reached a member")
        let limited = try proxy.server.stats().wait().workers.reduce(0) { $0 + ($1.limited[.concurrentStreams] ?? 0) }
        XCTAssertEqual(limited, 1)
        // One stream ends (the first connection goes away): a new stream is taken.
        first.close()
        Thread.sleep(forTimeInterval: 0.3)
        try second.connection.send(RawHTTP2Client.get(stream: 5, authority: Self.name, path: "/quick"))
        XCTAssertTrue(backend.waitForRequests(4))
        XCTAssertFalse(second.connection.isClosed)
    }

    func testOversizedHeaderListEndsTheConnectionAndIsCounted() throws {
        let backend = try startBackend()
        let proxy = try start(yaml(members: [backend.member], top: "http2: { max_header_list_size: 4KiB }"))
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.get(
            stream: 1, authority: Self.name, path: "/", extra: [("x-big", String(repeating: "x", count: 6000))]
        ))
        let frames = client.framesUntilClose()
        XCTAssertNotNil(frames.last { $0.type == RawHTTP2Client.Frame.goAway }, "\(frames.map(\.type))")
        XCTAssertTrue(client.connection.isClosed)
        XCTAssertEqual(backend.requests.count, 0)
        XCTAssertEqual(try stats(proxy).headerListRejections, 1)
        // A header list within the limit is served.
        let fine = try curl(proxy, "/", ["-H", "X-Small: \(String(repeating: "y", count: 1000))"])
        XCTAssertEqual(fine.output, "ok", fine.error)
    }

    func testPerSourceRequestLimitAnswers429OnTheStream() throws {
        let backend = try startBackend()
        let proxy = try start(yaml(members: [backend.member], top: "limits: { requests_per_minute: 3 }"))
        let url = "https://\(Self.name):\(proxy.port)/"
        // Five requests on one HTTP/2 connection (curl multiplexes them): three pass, two get 429.
        let result = try runProgram("/usr/bin/curl", [
            "--silent", "--show-error", "--http2", "--max-time", "10", "--cacert", caFile,
            "--resolve", "\(Self.name):\(proxy.port):127.0.0.1", "-w", "%{http_code} %{http_version}\n",
        ] + (0..<5).flatMap { _ in ["-o", "/dev/null", url] })
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertEqual(result.output, "200 2\n200 2\n200 2\n429 2\n429 2\n")
        XCTAssertEqual(backend.requests.count, 3, "refused streams never reach a member")
        XCTAssertEqual(try stats(proxy).connections, 1)
        let limited = try proxy.server.stats().wait().workers.reduce(0) { $0 + ($1.limited[.requestsPerMinute] ?? 0) }
        XCTAssertEqual(limited, 2)
        let headers = try curl(proxy, "/", ["-D", "-", "-o", "/dev/null"])
        XCTAssertTrue(headers.output.hasPrefix("HTTP/2 429"), headers.output)
        XCTAssertTrue(headers.output.contains("retry-after: "), headers.output)
    }

    /// A client that sends its request and then its TLS close_notify in one segment still
    /// gets the answers edgesplit writes itself while reading that segment (here a 404): the
    /// TLS handler closes the connection right after the read, so a flush held for the end of
    /// the event loop's turn must not be what carries them.
    func testAnswerWrittenInTheReadThatEndsWithCloseNotifyIsSent() throws {
        let backend = try startBackend()
        let proxy = try start(yaml(members: [backend.member]))
        let client = try raw(proxy)
        let channel = client.connection.channel
        try channel.eventLoop.submit {
            // Both TLS records leave in one write: the request, then close_notify.
            try channel.pipeline.syncOperations.addHandler(HoldFlushesUntilClose(), position: .first)
            channel.write(channel.allocator.buffer(bytes: RawHTTP2Client.get(stream: 1, authority: "nobody.contoso.test", path: "/")), promise: nil)
            channel.close(mode: .output, promise: nil)
        }.wait()
        let frames = client.framesUntilClose(timeout: 5)
        XCTAssertNotNil(
            frames.first { $0.type == RawHTTP2Client.Frame.headers && $0.stream == 1 },
            "the 404 was dropped; frames: \(frames.map { ($0.type, $0.stream) })"
        )
        XCTAssertEqual(backend.requests.count, 0)
    }

    /// A member that sends part of its body and then stalls: the part reaches the client at
    /// once (the held last slice is written when the member's read completes).
    func testPartialBodyOfAStalledMemberReachesTheClient() throws {
        let backend = try startBackend { _ in
            .send(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello".utf8))
        }
        let proxy = try start(yaml(members: [backend.member]))
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.get(stream: 1, authority: Self.name, path: "/"))
        var body: [UInt8] = []
        while body.count < 5, let frame = try client.readFrame(timeout: 3) {
            if frame.type == RawHTTP2Client.Frame.data && frame.stream == 1 {
                XCTAssertEqual(frame.flags & 1, 0, "END_STREAM on a body the member has not finished")
                body += frame.payload
            }
        }
        XCTAssertEqual(String(decoding: body, as: UTF8.self), "hello")
    }

    // MARK: Timeouts

    /// The streams of a connection share one timer: a stream whose member never answers gets
    /// its 504 when the rule's response timeout passes, while a later stream on the same
    /// connection is answered at once and the connection stays usable.
    func testAStalledMembersStreamGets504AtTheResponseTimeoutAndTheOthersGoOn() throws {
        let backend = try startBackend { request in
            String(decoding: request.target, as: UTF8.self) == "/stall" ? .stall : .send(RecordingBackend.ok("quick"))
        }
        let proxy = try start(yaml(members: [backend.member]).replacingOccurrences(
            of: "farm: pool }", with: "farm: pool, timeouts: { response: 1s } }"
        ))
        let client = try raw(proxy)
        let start = Date()
        try client.connection.send(RawHTTP2Client.get(stream: 1, authority: Self.name, path: "/stall"))
        try client.connection.send(RawHTTP2Client.get(stream: 3, authority: Self.name, path: "/quick"))
        var bodies: [UInt32: String] = [:]
        var quickAt: TimeInterval?
        var stalledAt: TimeInterval?
        while stalledAt == nil || quickAt == nil, let frame = try client.readFrame(timeout: 5) {
            guard frame.type == RawHTTP2Client.Frame.data else { continue }
            bodies[frame.stream, default: ""] += String(decoding: frame.payload, as: UTF8.self)
            guard frame.flags & 1 == 1 else { continue }
            if frame.stream == 3 { quickAt = Date().timeIntervalSince(start) }
            if frame.stream == 1 { stalledAt = Date().timeIntervalSince(start) }
        }
        XCTAssertEqual(bodies[3], "quick")
        XCTAssertEqual(bodies[1], "504 Gateway Timeout\n")
        XCTAssertLessThan(quickAt ?? 99, stalledAt ?? 0, "the other stream did not wait for the stalled one")
        XCTAssertGreaterThan(stalledAt ?? 0, 0.9, "not before the response timeout")
        try client.connection.send(RawHTTP2Client.get(stream: 5, authority: Self.name, path: "/again"))
        var again = ""
        while let frame = try client.readFrame(timeout: 5) {
            guard frame.type == RawHTTP2Client.Frame.data, frame.stream == 5 else { continue }
            again += String(decoding: frame.payload, as: UTF8.self)
            if frame.flags & 1 == 1 { break }
        }
        XCTAssertEqual(again, "quick", "the connection stays usable")
    }

    // MARK: Flow control (edgesplit's own: streams are not channels)

    /// A member answering `size` bytes of "b", and a raw client that set its streams' initial
    /// window and asked for it on stream 1 (the member has the request).
    private func bigResponse(_ size: Int, initialWindow: UInt32) throws -> (RecordingBackend, RawHTTP2Client) {
        let backend = try startBackend { _ in
            .send(Array("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n".utf8) + [UInt8](repeating: 0x62, count: size))
        }
        let proxy = try start(yaml(members: [backend.member]))
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.initialWindowSize(initialWindow))
        try client.connection.send(RawHTTP2Client.get(stream: 1, authority: Self.name, path: "/big"))
        XCTAssertTrue(backend.waitForRequests(1))
        return (backend, client)
    }

    /// A client that grants no window holds back the member: edgesplit sends the stream's
    /// initial window (16,384 bytes by the client's SETTINGS), then what a larger
    /// SETTINGS_INITIAL_WINDOW_SIZE adds to it, stops reading the member in between, and relays
    /// the rest, whole, once the client opens its windows.
    func testAClientsClosedWindowHoldsBackTheMemberAndNothingIsLost() throws {
        let size = 16 * 1024 * 1024
        let (backend, client) = try bigResponse(size, initialWindow: 16_384)
        var body = 0
        var ended = false
        func read(until deadline: Date, atLeast enough: Int = .max) throws {
            while !ended, body < enough, Date() < deadline, let frame = try? client.readFrame(timeout: deadline.timeIntervalSinceNow) {
                guard frame.stream == 1, frame.type == RawHTTP2Client.Frame.data else { continue }
                XCTAssertTrue(frame.payload.allSatisfy { $0 == 0x62 })
                body += frame.payload.count
                ended = frame.flags & 1 == 1
            }
        }
        // Until the window's worth arrived, then half a second more in which nothing may.
        try read(until: Date().addingTimeInterval(10), atLeast: 16_384)
        try read(until: Date().addingTimeInterval(0.5))
        XCTAssertEqual(body, 16_384, "exactly the stream's initial window was sent")
        try client.connection.send(RawHTTP2Client.initialWindowSize(32_768))
        try read(until: Date().addingTimeInterval(10), atLeast: 32_768)
        try read(until: Date().addingTimeInterval(0.5))
        XCTAssertEqual(body, 32_768, "the larger initial window opened the stream by the difference")
        XCTAssertEqual(backend.writesCompleted, 0, "the whole response left the member although the client granted no window")

        // Windows for the rest, on the stream and on the connection (one increment each).
        try client.connection.send(RawHTTP2Client.windowUpdate(stream: 1, increment: UInt32(size)))
        try client.connection.send(RawHTTP2Client.windowUpdate(stream: 0, increment: UInt32(size)))
        try read(until: Date().addingTimeInterval(60))
        XCTAssertTrue(ended, "END_STREAM after \(body) bytes")
        XCTAssertEqual(body, size)
    }

    /// A client that opens the connection's window a byte at a time (stream windows wide open)
    /// gets a byte at a time: edgesplit reads the member only as bytes leave, not each time a
    /// window opens, so the response does not pile up in memory.
    func testAConnectionWindowOpenedAByteAtATimeDoesNotDrainTheMember() throws {
        let (backend, client) = try bigResponse(16 * 1024 * 1024, initialWindow: 0x7FFF_FFFF)
        var received = 0
        _ = client.frames(timeout: 10) { seen in
            received = seen.filter { $0.type == RawHTTP2Client.Frame.data }.reduce(0) { $0 + $1.payload.count }
            return received >= 65_535
        }
        XCTAssertEqual(received, 65_535, "the connection's window")
        for _ in 0..<300 {
            try client.connection.send(RawHTTP2Client.windowUpdate(stream: 0, increment: 1))
            Thread.sleep(forTimeInterval: 0.005)
        }
        let more = client.frames(timeout: 1) { _ in false }.filter { $0.type == RawHTTP2Client.Frame.data }
        XCTAssertEqual(more.reduce(0) { $0 + $1.payload.count }, 300, "a byte per byte of window")
        XCTAssertEqual(backend.writesCompleted, 0, "edgesplit read the member's whole response into memory")
    }

    /// A member that does not read holds back the client's upload: edgesplit grants the
    /// stream's window back only while the member connection takes more, so what it accepted
    /// stays bounded, and everything arrives once the member reads.
    func testAMemberNotReadingHoldsBackTheUploadThroughTheStreamsWindow() throws {
        let size = 32 * 1024 * 1024
        let backend = try startBackend(readPaused: true) { request in .send(RecordingBackend.ok("\(request.body.count)")) }
        let proxy = try start(yaml(members: [backend.member]))
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.headers(
            stream: 1, method: "PUT", authority: Self.name, path: "/upload", extra: [("content-length", "\(size)")]
        ))
        var sent = 0
        var streamWindow = 65_535
        var connectionWindow = 65_535
        var answer: [UInt8] = []
        var answered = false
        var answerEnded = false
        /// Sends DATA while the windows allow; otherwise reads a frame (WINDOW_UPDATE, the answer).
        func pump(until deadline: Date) {
            while Date() < deadline, sent < size || !answerEnded {
                let room = min(streamWindow, connectionWindow, 16_384, size - sent)
                if room > 0 {
                    let end = sent + room == size
                    guard (try? client.connection.send(RawHTTP2Client.frame(
                        type: RawHTTP2Client.Frame.data, flags: end ? 1 : 0, stream: 1, [UInt8](repeating: 0x75, count: room)
                    ))) != nil else { return }
                    sent += room
                    streamWindow -= room
                    connectionWindow -= room
                    continue
                }
                guard let frame = try? client.readFrame(timeout: min(0.2, max(0.01, deadline.timeIntervalSinceNow))) else { continue }
                switch frame.type {
                case RawHTTP2Client.Frame.windowUpdate:
                    let increment = Int(frame.payload.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF)
                    if frame.stream == 0 { connectionWindow += increment } else if frame.stream == 1 { streamWindow += increment }
                case RawHTTP2Client.Frame.headers where frame.stream == 1:
                    answered = true
                    answerEnded = frame.flags & 1 == 1
                case RawHTTP2Client.Frame.data where frame.stream == 1:
                    answer += frame.payload
                    answerEnded = frame.flags & 1 == 1
                default:
                    break
                }
            }
        }
        pump(until: Date().addingTimeInterval(1.5))
        XCTAssertLessThan(sent, size / 2, "edgesplit took the upload although the member read nothing")
        XCTAssertFalse(answered)

        backend.resumeReading()
        pump(until: Date().addingTimeInterval(60))
        XCTAssertEqual(sent, size)
        XCTAssertEqual(String(decoding: answer, as: UTF8.self), "\(size)", "the member received every byte")
    }

    /// An answer before the request's end (here `max_body`'s 413 while the upload goes on)
    /// reaches the client whole, END_STREAM included, before the RST_STREAM(NO_ERROR) that
    /// stops the upload — also when the client's window holds the answer back for a while.
    func testAnEarlyAnswerArrivesWholeBeforeItsReset() throws {
        let backend = try startBackend()
        let proxy = try start(yaml(members: [backend.member]).replacingOccurrences(of: "farm: pool }", with: "farm: pool, max_body: 10 }"))
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.initialWindowSize(1))
        try client.connection.send(RawHTTP2Client.headers(stream: 1, method: "POST", authority: Self.name, path: "/up"))
        try client.connection.send(RawHTTP2Client.frame(type: RawHTTP2Client.Frame.data, flags: 0, stream: 1, [UInt8](repeating: 0x75, count: 100)))
        var seen = client.frames(timeout: 10) { !RawHTTP2Client.body($0, stream: 1).isEmpty }
        seen += client.frames(timeout: 0.5) { _ in false }
        XCTAssertEqual(RawHTTP2Client.body(seen, stream: 1), "4", "one byte of the answer, as the window allows")
        XCTAssertFalse(seen.contains { $0.type == RawHTTP2Client.Frame.rstStream }, "the reset overtook the answer")
        try client.connection.send(RawHTTP2Client.windowUpdate(stream: 1, increment: 1000))
        seen += client.frames() { $0.contains { $0.type == RawHTTP2Client.Frame.rstStream } }
        XCTAssertEqual(RawHTTP2Client.body(seen, stream: 1), "413 Content Too Large\n")
        XCTAssertTrue(RawHTTP2Client.ended(seen, stream: 1))
        let reset = seen.firstIndex { $0.type == RawHTTP2Client.Frame.rstStream && $0.stream == 1 }
        XCTAssertEqual(reset.map { seen[$0].errorCode }, 0, "RST_STREAM(NO_ERROR)")
        XCTAssertGreaterThan(reset ?? -1, seen.lastIndex { $0.type == RawHTTP2Client.Frame.data } ?? Int.max, "after the answer's end")
    }

    /// DATA held for streams the client then resets is never sent and uses none of the
    /// connection's window: the connection keeps serving.
    func testDataDroppedWithResetStreamsDoesNotUseUpTheConnectionsWindow() throws {
        let big = String(repeating: "b", count: 64 * 1024)
        let backend = try startBackend { request in
            .send(RecordingBackend.ok(String(decoding: request.target, as: UTF8.self) == "/small" ? "tiny" : big))
        }
        let proxy = try start(yaml(members: [backend.member]))
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.initialWindowSize(1))
        let streams: [UInt32] = [1, 3, 5, 7, 9]
        for stream in streams { try client.connection.send(RawHTTP2Client.get(stream: stream, authority: Self.name, path: "/big")) }
        XCTAssertTrue(backend.waitForRequests(streams.count))
        // Each stream's first byte (its window) arrived: the rest of each 64 KiB is held.
        _ = client.frames(timeout: 10) { seen in streams.allSatisfy { !RawHTTP2Client.body(seen, stream: $0).isEmpty } }
        for stream in streams { try client.connection.send(RawHTTP2Client.reset(stream: stream)) }
        try client.connection.send(RawHTTP2Client.initialWindowSize(65_535))
        try client.connection.send(RawHTTP2Client.get(stream: 11, authority: Self.name, path: "/small"))
        let seen = client.frames() { RawHTTP2Client.ended($0, stream: 11) }
        XCTAssertEqual(RawHTTP2Client.body(seen, stream: 11), "tiny")
    }

    /// An error in what the client sent on one stream (a body longer than its content-length)
    /// resets that stream only; the other streams and the connection go on.
    func testAStreamErrorEndsThatStreamOnly() throws {
        let backend = try startBackend()
        let proxy = try start(yaml(members: [backend.member]))
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.headers(
            stream: 1, method: "POST", authority: Self.name, path: "/up", extra: [("content-length", "5")]
        ))
        try client.connection.send(RawHTTP2Client.frame(type: RawHTTP2Client.Frame.data, flags: 1, stream: 1, Array("0123456789".utf8)))
        try client.connection.send(RawHTTP2Client.get(stream: 3, authority: Self.name, path: "/"))
        var seen = client.frames() { RawHTTP2Client.ended($0, stream: 3) }
        XCTAssertTrue(seen.contains { $0.type == RawHTTP2Client.Frame.rstStream && $0.stream == 1 }, "\(seen.map { ($0.type, $0.stream) })")
        XCTAssertEqual(RawHTTP2Client.body(seen, stream: 3), "ok")
        try client.connection.send(RawHTTP2Client.get(stream: 5, authority: Self.name, path: "/"))
        seen = client.frames() { RawHTTP2Client.ended($0, stream: 5) }
        XCTAssertEqual(RawHTTP2Client.body(seen, stream: 5), "ok", "the connection stays open")
        XCTAssertFalse(seen.contains { $0.type == RawHTTP2Client.Frame.goAway })
    }

    /// A client that never opens its window cannot keep a finished stream, and so its
    /// connection, open: an idle time after the exchange completed (edgesplit's 404, whose
    /// body waits for a window) the stream is reset, and the idle connection is then closed.
    func testAFinishedStreamTheClientHoldsOpenIsResetAndTheConnectionCloses() throws {
        let backend = try startBackend()
        let proxy = try start(yaml(members: [backend.member], top: "timeouts: { request_head: 1s }"))
        let client = try raw(proxy)
        try client.connection.send(RawHTTP2Client.initialWindowSize(0))
        try client.connection.send(RawHTTP2Client.get(stream: 1, authority: "nobody.contoso.test", path: "/"))
        let seen = client.framesUntilClose(timeout: 10)
        XCTAssertTrue(client.connection.isClosed, "\(seen.map { ($0.type, $0.stream) })")
        let reset = seen.first { $0.type == RawHTTP2Client.Frame.rstStream && $0.stream == 1 }
        XCTAssertEqual(reset?.errorCode, 8, "RST_STREAM(CANCEL)")
        XCTAssertTrue(seen.contains { $0.type == RawHTTP2Client.Frame.goAway })
    }

    func testHTTP2CanBeTurnedOff() throws {
        let backend = try startBackend()
        let proxy = try start(yaml(members: [backend.member], top: "http2: { enabled: false }"))
        let result = try curl(proxy, "/", ["-o", "/dev/null", "-w", "%{http_version}"])
        XCTAssertEqual(result.output, "1.1", result.error)
        XCTAssertEqual(try stats(proxy).connections, 0)
    }
}

/// Holds a client's flushes until it closes, so that everything written before the close
/// (TLS records included) reaches the socket in one write.
private final class HoldFlushesUntilClose: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny

    func flush(context: ChannelHandlerContext) {}

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        context.flush()
        context.close(mode: mode, promise: promise)
    }
}
