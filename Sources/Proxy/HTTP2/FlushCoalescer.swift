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
/// ready channels of a turn). A close flushes what was held first.
final class FlushCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var flushPending = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if flushPending {
            flushPending = false
            context.flush()
        }
        self.context = nil
    }

    func flush(context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        // Strong capture: the task runs within this turn of the loop, and handlerRemoved or
        // close settle a pending flush before the handler can go.
        context.eventLoop.assumeIsolated().execute { self.flushNow() }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if flushPending {
            flushPending = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }

    private func flushNow() {
        guard flushPending, let context else { return }
        flushPending = false
        context.flush()
    }
}
