import NIOCore
import NIOEmbedded
@testable import HTTP2Serving
import XCTest

/// The HTTP/2 connection's flushes wait for the end of the event loop's turn, and nothing
/// written is ever left behind: not by a close, not by the handler's removal.
final class FlushCoalescerTests: XCTestCase {
    private func buffer(_ text: String, _ channel: EmbeddedChannel) -> ByteBuffer {
        channel.allocator.buffer(string: text)
    }

    private func drain(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let b = try channel.readOutbound(as: ByteBuffer.self) { out.append(String(buffer: b)) }
        return out
    }

    func testFlushesOfOneTurnLeaveTogetherAfterIt() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescer())
        channel.write(buffer("a", channel), promise: nil)
        channel.flush()
        channel.write(buffer("b", channel), promise: nil)
        channel.flush()
        XCTAssertEqual(try drain(channel), [], "a flush went out within the turn")
        channel.embeddedEventLoop.run()
        XCTAssertEqual(try drain(channel), ["ab"], "one write for the turn's small writes")
        // The next turn's flush is held again, once.
        channel.writeAndFlush(buffer("c", channel), promise: nil)
        XCTAssertEqual(try drain(channel), [])
        channel.embeddedEventLoop.run()
        XCTAssertEqual(try drain(channel), ["c"])
        _ = try channel.finish()
    }

    /// The end of a read of the client's own connection flushes at once: the TLS handler below
    /// may close the channel right after it (close_notify), with no close passing through here.
    func testTheEndOfAReadFlushesWhatIsHeld() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescer())
        channel.writeAndFlush(buffer("f", channel), promise: nil)
        XCTAssertEqual(try drain(channel), [])
        channel.pipeline.fireChannelReadComplete()
        XCTAssertEqual(try drain(channel), ["f"])
        channel.embeddedEventLoop.run()
        XCTAssertEqual(try drain(channel), [])
        _ = try channel.finish()
    }

    func testCloseFlushesWhatIsHeldFirst() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescer())
        var written: [String] = []
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenSuccess { written.append("d") }
        channel.write(buffer("d", channel), promise: promise)
        channel.flush()
        XCTAssertEqual(written, [])
        channel.close(promise: nil)
        XCTAssertEqual(written, ["d"], "the held flush was dropped by the close")
        XCTAssertEqual(try drain(channel), ["d"])
    }

    /// A write too large to copy goes on as it is, after what was joined before it and before
    /// what is joined after it; a joined write's promise completes with the joined write.
    func testLargeWritesKeepTheirPlaceAndJoinedPromisesComplete() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescer())
        let large = String(repeating: "L", count: FlushCoalescer.joinLimit + 1)
        var done = false
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenSuccess { done = true }
        channel.write(buffer("a", channel), promise: nil)
        channel.write(buffer(large, channel), promise: nil)
        channel.write(buffer("b", channel), promise: nil)
        channel.write(buffer("c", channel), promise: nil)
        channel.write(buffer("p", channel), promise: promise)
        channel.write(buffer("d", channel), promise: nil)
        channel.flush()
        XCTAssertFalse(done, "completed before the write")
        channel.embeddedEventLoop.run()
        XCTAssertEqual(try drain(channel), ["a", large, "bcpd"])
        XCTAssertTrue(done)
        _ = try channel.finish()
    }

    /// The joined buffer never grows beyond one TLS record's worth.
    func testJoinedWritesStopAtOneRecord() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescer())
        let piece = String(repeating: "x", count: FlushCoalescer.joinLimit)
        for _ in 0..<5 { channel.write(buffer(piece, channel), promise: nil) }
        channel.flush()
        channel.embeddedEventLoop.run()
        XCTAssertEqual(try drain(channel).map(\.count), [4 * FlushCoalescer.joinLimit, FlushCoalescer.joinLimit])
        _ = try channel.finish()
    }

    func testRemovalFlushesWhatIsHeld() throws {
        let coalescer = FlushCoalescer()
        let channel = EmbeddedChannel(handler: coalescer)
        channel.writeAndFlush(buffer("e", channel), promise: nil)
        try channel.pipeline.syncOperations.removeHandler(coalescer).wait()
        XCTAssertEqual(try drain(channel), ["e"])
        channel.embeddedEventLoop.run()
        XCTAssertEqual(try drain(channel), [])
        _ = try channel.finish()
    }
}
