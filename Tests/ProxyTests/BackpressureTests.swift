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
}
