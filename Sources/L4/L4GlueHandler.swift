#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// What an `L4GlueHandler` reports to and asks: the connection both sides belong to.
package protocol L4GlueConnection: AnyObject {
    /// `side`'s channel read `bytes`.
    func received(_ bytes: ByteBuffer, from side: L4GlueHandler.Side)
    /// The other side's read burst ended: flush what it wrote toward `side`.
    func flush(toward side: L4GlueHandler.Side)
    /// Whether `side` may read now (the other side can take more).
    func mayRead(_ side: L4GlueHandler.Side) -> Bool
    /// `side`'s channel became writable again.
    func becameWritable(_ side: L4GlueHandler.Side)
    /// NIO reports that `side`'s input ended.
    func inputEnded(_ side: L4GlueHandler.Side)
    /// `side`'s channel closed.
    func closed(side: L4GlueHandler.Side)
    /// One side finished both directions (`isFinished`).
    func sideFinished()
}

/// One side (client or member) of an L4 connection. In userspace mode it copies what its
/// channel reads to the other side with backpressure: it asks its channel for more only
/// while the other side is writable. In spliced mode the kernel moves the bytes and the
/// channel does not read; the handler only carries the connection's life: end of stream,
/// errors and close, which NIO still reports from epoll.
package final class L4GlueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = ByteBuffer
    package typealias OutboundIn = ByteBuffer
    package typealias OutboundOut = ByteBuffer

    package enum Side: Sendable { case client, member }

    let side: Side
    /// Released when the handler leaves the pipeline (the channel closed), which breaks the
    /// connection ↔ handler cycle.
    private var connection: (any L4GlueConnection)?
    package private(set) var context: ChannelHandlerContext?
    private var pendingRead = false
    package private(set) var inputClosed = false
    private var outputClosing = false
    private(set) var outputClosed = false
    /// The channel reported an error (a reset, a failed read or write): its close is not an
    /// end of stream.
    private var failed = false

    package init(side: Side, connection: any L4GlueConnection) {
        self.side = side
        self.connection = connection
    }

    package var isWritable: Bool { context?.channel.isWritable ?? false }

    package func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    package func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        connection = nil
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection?.received(unwrapInboundIn(data), from: side)
    }

    package func channelReadComplete(context: ChannelHandlerContext) {
        connection?.flush(toward: side == .client ? .member : .client)
    }

    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            connection?.inputEnded(side)
        }
    }

    package func channelInactive(context: ChannelHandlerContext) {
        // NIO closes a channel outright when its input ends after its output was shut (ours,
        // after the other side's end), without reporting the end of input first. That close
        // is this side's clean end: reported as such, the other side still gets every byte
        // queued for it before its own end, instead of a close that drops them.
        if outputClosed && !inputClosed && !failed { connection?.inputEnded(side) }
        connection?.closed(side: side)
    }

    package func errorCaught(context: ChannelHandlerContext, error: Error) {
        failed = true
        context.close(promise: nil)
    }

    package func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { connection?.becameWritable(side) }
        context.fireChannelWritabilityChanged()
    }

    package func read(context: ChannelHandlerContext) {
        if connection?.mayRead(side) ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }

    /// The connection confirmed that this side's input ended.
    package func markInputClosed() {
        inputClosed = true
        closeIfFinished()
    }

    /// The other side can take more again: resume a read that backpressure held back.
    package func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    /// End of stream from the other side: shut this side's write half (half-close) once
    /// what is queued for it has been written. NIO would otherwise escalate an output close
    /// on a channel whose input already ended to a full close that drops pending writes.
    /// A spliced socket (`descriptor`) is shut directly: the kernel wrote to it, not NIO, and
    /// NIO would take the end of stream it then reports as a reason to close the socket.
    package func shutdownOutput(descriptor: CInt? = nil) {
        guard !outputClosing, let context else { return }
        outputClosing = true
        if let descriptor {
            outputClosed = true
            _ = Glibc.shutdown(descriptor, Int32(SHUT_WR))
            closeIfFinished()
            return
        }
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0)), promise: flushed)
        flushed.futureResult.assumeIsolated().whenComplete { [weak self] _ in
            guard let self, let context = self.context else { return }
            self.outputClosed = true
            if self.inputClosed {
                self.closeIfFinished()
            } else {
                context.close(mode: .output, promise: nil)
            }
        }
    }

    /// Both directions of this side are done; the connection closes both sides once the
    /// other is done too (closing one socket early would cut off what the kernel still
    /// has queued for the other).
    package var isFinished: Bool { inputClosed && outputClosed }

    private func closeIfFinished() {
        if isFinished { connection?.sideFinished() }
    }
}
