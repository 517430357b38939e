import NIOCore
import NIOHTTP1

/// Serves one connection of a demo backend: collects a request, asks ``DemoRouter`` for the
/// answer, and writes it, now or after a hold.
///
/// Sits after `configureHTTPServerPipeline(withPipeliningAssistance: true)`, so requests arrive
/// one at a time even when a client (or the proxy) pipelines, and keep-alive is the default. The
/// connection's NTLM state lives here because NTLM authenticates the connection.
final class DemoHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let router: DemoRouter
    private let activity: DemoBackendActivity
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var ntlm = NTLMHandshake.idle
    /// A UCWA pending GET being held; cancelled when the client goes away.
    private var held: Scheduled<Void>?

    init(router: DemoRouter, activity: DemoBackendActivity) {
        self.router = router
        self.activity = activity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
            // RFC 9110 §10.1.1: a client that sent `Expect: 100-continue` waits for this before
            // sending the body. NIO's HTTP/1 server pipeline does not send it by itself, and the
            // demo reads every body (it reports the byte count), so it always says continue.
            if head.version.major == 1, head.version.minor >= 1,
                head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" })
            {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
                    promise: nil
                )
            }
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
        case .end:
            guard let head else { return }
            self.head = nil
            answer(head, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let held {
            held.cancel()
            self.held = nil
            activity.holdCancelled()
        }
        context.fireChannelInactive()
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let request = DemoRequest(
            method: head.method.rawValue,
            target: head.uri,
            version: "HTTP/\(head.version.major).\(head.version.minor)",
            host: head.headers.first(name: "host"),
            authorization: head.headers.first(name: "authorization"),
            forwardedFor: head.headers.first(name: "x-forwarded-for"),
            peer: Self.describe(context.channel.remoteAddress),
            bodyBytes: bodyBytes,
            chunked: head.headers["transfer-encoding"].contains { $0.lowercased().contains("chunked") }
        )
        switch router.reply(to: request, ntlm: &ntlm) {
        case .respond(let response):
            write(response, for: head, context: context)
        case .hold(let seconds, let response):
            // Non-blocking: the event loop keeps serving other connections while this one waits.
            activity.holdStarted()
            held = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(Int64(seconds))) {
                self.held = nil
                self.write(response, for: head, context: context)
            }
        }
    }

    private func write(_ response: DemoResponse, for head: HTTPRequestHead, context: ChannelHandlerContext) {
        let body = Array(response.body.utf8)
        var headers = HTTPHeaders(response.headers)
        headers.add(name: "Content-Length", value: String(body.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if head.version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let status = HTTPResponseStatus(statusCode: response.status, reasonPhrase: response.reason)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        activity.answered()
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// `127.0.0.1:54321` / `[::1]:54321`, as an operator writes an address.
    static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return "?" }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }
}
