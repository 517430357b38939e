import HTTP1
import NIOCore

/// Reads one response head from a farm member with the data plane's strict parser: what the
/// health checks and `test-rule --probe` need (status, reason, `WWW-Authenticate`, …).
/// Interim 1xx responses are skipped; the promise fails when the member closes first, sends
/// something that is not an HTTP response, or `fail` is called (a timeout).
///
/// However the read ends, the reader closes its channel: a timeout comes from a timer, not from
/// the channel, and a check that failed its promise without closing would leave one open
/// descriptor behind per timed-out check — hundreds a day against a member that accepts and
/// stays silent, until the process runs out. `fail` must be called on the channel's event loop.
final class MemberResponseReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let promise: EventLoopPromise<ResponseHead>
    private var parser = HeadParser(kind: .response)
    private var done = false
    /// Set while the reader is in a pipeline, so that ``fail(_:)`` can close the channel.
    private var context: ChannelHandlerContext?

    init(promise: EventLoopPromise<ResponseHead>) {
        self.promise = promise
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Failed (timed out) before the channel existed: it has no use any more.
        if done { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// The request for an anonymous `GET` with the given Host, closing after the answer.
    static func anonymousGET(target: String, host: String, userAgent: String) -> String {
        "GET \(target) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: \(userAgent)\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var buffer = unwrapInboundIn(data)
        while buffer.readableBytes > 0, !done {
            let result = buffer.withUnsafeReadableBytes { parser.parse($0) }
            switch result {
            case .needMore(let consumed):
                buffer.moveReaderIndex(forwardBy: consumed)
                return
            case .response(let head, let consumed):
                buffer.moveReaderIndex(forwardBy: consumed)
                if head.isInformational {
                    parser.reset()
                    continue
                }
                done = true
                promise.succeed(head)
                context.close(promise: nil)
            case .request:
                fail(Failure(description: "not an HTTP response"))
                context.close(promise: nil)
            case .failure(let error):
                fail(Failure(description: "not a valid HTTP response (\(error.reason))"))
                context.close(promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(Failure(description: "the member closed the connection without a complete response head"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error)
        context.close(promise: nil)
    }

    func fail(_ error: Error) {
        guard !done else { return }
        done = true
        promise.fail(error)
        context?.close(promise: nil)
    }
}

extension ResponseHead {
    /// Header values as text, for reports.
    func textValues(_ lowercasedName: String) -> [String] {
        values(lowercasedName).map { String(decoding: $0, as: UTF8.self) }
    }

    var reasonText: String { String(decoding: reason, as: UTF8.self) }
}
