import Foundation
import XCTest

/// A client that does not read must not make edgesplit buffer the member's response: the
/// proxy stops reading from the member until the client can take more.
final class BackpressureTests: ProxyTestCase {
    func testSlowClientHoldsBackTheMember() throws {
        let size = 64 * 1024 * 1024
        let backend = try startBackend { _ in
            .send(Array("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n".utf8) + [UInt8](repeating: 0x62, count: size))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try RawSocket(port: proxy.port)
        try client.send(get("/big"))
        XCTAssertTrue(backend.waitForRequests(1))
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(backend.writesCompleted, 0, "the whole response left the member although the client read nothing")

        let head = "HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n"
        let start = Date()
        let received = client.receive(atLeast: size + head.utf8.count)
        print("64 MiB relayed in \(Date().timeIntervalSince(start)) s once the client read")
        XCTAssertEqual(String(decoding: received.prefix(head.utf8.count), as: UTF8.self), head)
        XCTAssertEqual(received.count, size + head.utf8.count)
        XCTAssertTrue(received.suffix(1000).allSatisfy { $0 == 0x62 })
    }

    func testMemberNotReadingHoldsBackTheClientUpload() throws {
        let size = 64 * 1024 * 1024
        let backend = try startBackend(readPaused: true) { request in .send(RecordingBackend.ok("\(request.body.count)")) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try RawSocket(port: proxy.port)
        try client.send("PUT /upload HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: \(size)\r\n\r\n")
        let lock = NSLock()
        nonisolated(unsafe) var sent = 0
        let done = expectation(description: "upload sent")
        Thread.detachNewThread {
            try? client.sendFiller(size, byte: 0x75) { n in lock.withLock { sent += n } }
            done.fulfill()
        }
        Thread.sleep(forTimeInterval: 1)
        let sentWhilePaused = lock.withLock { sent }
        XCTAssertLessThan(sentWhilePaused, size / 2, "edgesplit read the upload although the member took nothing")

        backend.resumeReading()
        wait(for: [done], timeout: 20)
        let answer = String(decoding: client.receive(atLeast: 40), as: UTF8.self)
        XCTAssertTrue(answer.hasSuffix("\r\n\r\n\(size)"), answer)
    }
    /// A pipelined request behind a large response that the client reads late: the client side
    /// goes unwritable during the first response and writable again inside the flush that
    /// ends it. The second request is taken only after the first exchange has ended, so its
    /// response arrives whole (it used to be dropped, the connection left with no timeout).
    func testPipelinedRequestBehindALargeResponseReadLate() throws {
        let big = String(repeating: "a", count: 16 << 20)
        let backend = try startBackend { request in
            String(decoding: request.target, as: UTF8.self) == "/big" ? .send(RecordingBackend.ok(big)) : .send(RecordingBackend.ok("second-done"))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try StreamSocket.connect(port: proxy.port)
        client.setTimeout(seconds: 15)
        try client.send(Array((get("/big") + get("/second", headers: ["Connection: close"])).utf8))
        Thread.sleep(forTimeInterval: 1)  // the client reads nothing for a second
        var total = 0
        var tail: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            total += n
            tail = Array((tail + chunk[0..<n]).suffix(64))
        }
        XCTAssertGreaterThan(total, 16 << 20)
        XCTAssertTrue(String(decoding: tail, as: UTF8.self).hasSuffix("second-done"), "the second response arrived whole")
        XCTAssertEqual(backend.requests.count, 2)
    }
}
