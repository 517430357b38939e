import NIOCore

/// Holds an HTTP/2 connection's flushes to TLS until the end of the event loop's turn, so that
/// the responses of many streams finishing in one turn leave in one `SSL_write` and one
/// `writev` instead of one each.
///
/// Each stream's response is completed by a read on its own member connection, and every such
/// read flushes its stream. Without this handler each flush reaches `NIOSSLHandler`, which seals
/// a TLS record and writes it to the socket: ten concurrent streams cost ten records and ten
/// system calls where one would do. Writes pass through at once; only the flush waits, and it
/// runs as a task on the same event loop, after the turn's I/O events (NIO runs tasks after the
/// ready channels of a turn).
///
/// Small writes are joined into one buffer until the flush: the HTTP/2 handler writes each
/// frame header and each small payload apart, and the TLS handler makes each write one
/// `SSL_write` and one TLS record — three for a short response, at about 3,000 instructions and
/// 22 bytes on the wire each. Joined, a turn's frames leave in as few records as their size
/// needs. A write above `joinLimit` (a full DATA frame of a large body) is not copied: what was
/// joined goes first, then it, in the order they were written. The promises of joined writes
/// complete with the joined write.
///
/// What is held is never left behind: a close flushes it first, and so does the end of a read
/// of the client's own connection — the TLS handler below may close the channel itself right
/// after that read (the client's close_notify came with its last request), without a close
/// passing through here, and what was written while reading must be sealed before it does.
final class FlushCoalescer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// The largest write that is copied into the joined buffer.
    static let joinLimit = 4096
    /// The joined buffer goes on as one write before it grows beyond this: one full TLS record.
    static let joinedCapacity = 16_384

    private var flushPending = false
    private var joined: ByteBuffer?
    /// The first promise among the joined writes; the others follow it.
    private var joinedPromise: EventLoopPromise<Void>?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        flushHeld(context)
        self.context = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .byteBuffer(var buffer) = unwrapOutboundIn(data), buffer.readableBytes <= Self.joinLimit {
            if let held = joined, held.readableBytes + buffer.readableBytes > Self.joinedCapacity {
                writeJoined(context)
            }
            if joined == nil { joined = context.channel.allocator.buffer(capacity: Self.joinedCapacity) }
            joined!.writeBuffer(&buffer)
            if let promise {
                if let first = joinedPromise { first.futureResult.cascade(to: promise) } else { joinedPromise = promise }
            }
            return
        }
        writeJoined(context)
        context.write(data, promise: promise)
    }

    /// What was joined goes on as one write.
    private func writeJoined(_ context: ChannelHandlerContext) {
        guard let held = joined else { return }
        let promise = joinedPromise
        joined = nil
        joinedPromise = nil
        context.write(wrapOutboundOut(.byteBuffer(held)), promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        // Strong capture: the task runs within this turn of the loop, and handlerRemoved or
        // close settle a pending flush before the handler can go.
        context.eventLoop.assumeIsolated().execute { self.flushNow() }
    }

    /// The HTTP/2 handler above writes its frames when the read completes; they leave now, in
    /// the read's own turn, where they would have gone without this handler.
    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        flushHeld(context)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        flushHeld(context)
        context.close(mode: mode, promise: promise)
    }

    private func flushHeld(_ context: ChannelHandlerContext) {
        guard flushPending || joined != nil else { return }
        flushPending = false
        writeJoined(context)
        context.flush()
    }

    private func flushNow() {
        guard let context else { return }
        flushHeld(context)
    }
}
