import Foundation
import XCTest

/// Shutdown drains: an exchange in flight finishes (with `Connection: close`), idle
/// connections close, and the listener stops accepting.
final class LifecycleTests: ProxyTestCase {
    func testShutdownLetsInFlightExchangeFinish() throws {
        let backend = try startBackend { _ in .sendAfter(0.3, RecordingBackend.ok("late")) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let idle = try connect(proxy.port)
        let busy = try connect(proxy.port)
        try busy.send(get("/slow"))
        XCTAssertTrue(backend.waitForRequests(1))

        let stopped = expectation(description: "shutdown returned")
        Thread.detachNewThread {
            proxy.stop()
            stopped.fulfill()
        }
        let response = try busy.readResponse()
        XCTAssertEqual(response.bodyText, "late")
        XCTAssertEqual(response.first("connection"), "close")
        XCTAssertTrue(busy.waitForClose(timeout: 2))
        XCTAssertTrue(idle.waitForClose(timeout: 2))
        wait(for: [stopped], timeout: 5)
        XCTAssertThrowsError(try TestClient(port: proxy.port), "the listener is closed")
    }
}
