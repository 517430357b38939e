import Affinity
import NIOCore
import NIOHTTP2

/// One client connection speaking HTTP/2 (ALPN `h2`) after its TLS handshake.
///
/// The pipeline after TLS reads: `FlushCoalescer` (one TLS write per turn of the event loop for
/// all the streams that flushed in it) → `NIOHTTP2Handler` (frames, HPACK, flow control, the stream
/// limits and the rapid-reset defence) → `NIOHTTP2ServerConnectionManagementHandler` (idle
/// close and graceful GOAWAY) → this handler, which counts what the limits refused and is
/// what the worker drains at shutdown and reload. Every client stream gets a child channel with one
/// `HTTP2StreamHandler`, which maps it to one HTTP/1.1 exchange with a farm member.
final class HTTP2Connection: ChannelInboundHandler, ClientConnection {
    typealias InboundIn = HTTP2Frame

    let worker: Worker
    let listenerIndex: Int
    let client: ClientAddress?
    let clientText: String
    let clientTextBytes: [UInt8]
    /// The connection's place in its source's limit counts: each stream is one request.
    let sourceTicket: SourceTicket?
    private var context: ChannelHandlerContext?
    private var closed = false

    init(worker: Worker, listenerIndex: Int, client: ClientAddress?, clientText: String, sourceTicket: SourceTicket?) {
        self.worker = worker
        self.sourceTicket = sourceTicket
        self.listenerIndex = listenerIndex
        self.client = client
        self.clientText = clientText
        self.clientTextBytes = Array(clientText.utf8)
    }

    /// Adds the HTTP/2 handlers at the end of `channel`'s pipeline.
    func install(in channel: Channel) throws {
        let options = worker.runtime.config.http2
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        // Every request's header block is judged by `HTTP2Translation` and then by the strict
        // head parser; responses are built from heads that parser accepted. The library's own
        // check of both repeated that at about a tenth of a stream's instructions.
        connection.headerBlockValidation = .disabled
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: options.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: options.maxHeaderListSize),
            HTTP2Setting(parameter: .maxFrameSize, value: 1 << 14),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        // RFC 9113 §6.4: a client cancelling its own streams sends RST_STREAM; more than this
        // in one second is an attack (CVE-2023-44487), and the library answers GOAWAY.
        stream.streamResetFrameRateLimit.maximumCount = options.maxResetsPerSecond
        stream.streamResetFrameRateLimit.windowLength = .seconds(1)
        let management = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(
                maxIdleTime: worker.runtime.config.timeouts.requestHead.timeAmount,
                maxAge: nil,
                maxGraceTime: nil,
                keepalive: nil
            )
        )
        let sync = channel.pipeline.syncOperations
        // Streams are initialised on this connection's event loop: the connection is reached
        // from there only, which `NIOLoopBound` checks.
        let bound = NIOLoopBound(self, eventLoop: channel.eventLoop)
        let http2 = NIOHTTP2Handler(
            mode: .server,
            eventLoop: channel.eventLoop,
            connectionConfiguration: connection,
            streamConfiguration: stream,
            streamDelegate: management.http2StreamDelegate
        ) { streamChannel in
            streamChannel.eventLoop.makeCompletedFuture {
                let connection = bound.value
                connection.worker.stats.http2.streams &+= 1
                try streamChannel.pipeline.syncOperations.addHandler(HTTP2StreamHandler(connection: connection))
            }
        }
        try sync.addHandler(FlushCoalescer())
        try sync.addHandler(http2)
        try sync.addHandler(management)
        try sync.addHandler(self)
        // The channel became active before ALPN chose h2; the management handler starts its
        // idle timer on channelActive, so it is told now (NIOHTTP2Handler itself needs no
        // telling: added to an active channel, it sends its SETTINGS at once).
        try sync.context(handler: http2).fireChannelActive()
        worker.stats.http2.connections &+= 1
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        worker.unregister(self, handshakeFailed: false)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        worker.unregister(self, handshakeFailed: false)
        self.context = nil
    }

    /// The HTTP/2 handler reports every stream and connection error it answered; the ones
    /// the limits caused are counted. The library has already sent RST_STREAM or GOAWAY.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        var base = error
        if let streamError = error as? NIOHTTP2Errors.StreamError { base = streamError.baseError }
        switch base {
        case is NIOHTTP2Errors.ExcessiveRSTFrames:
            worker.stats.http2.rapidResetCloses &+= 1
        case is NIOHTTP2Errors.MaxStreamsViolation:
            worker.stats.http2.streamLimitCloses &+= 1
        case is NIOHTTP2Errors.ExcessivelyLargeHeaderBlock, is NIOHTTP2Errors.UnableToParseFrame:
            worker.stats.http2.headerListRejections &+= 1
        default:
            break
        }
        // A connection error has been answered with GOAWAY: close. A stream error ended its
        // stream only.
        if !(error is NIOHTTP2Errors.StreamError) { context.close(promise: nil) }
    }

    // MARK: ClientConnection

    /// GOAWAY, then close once the open streams have finished (the management handler's
    /// graceful shutdown: a first GOAWAY, a PING round trip, the final GOAWAY).
    func drain(gentle: Bool) {
        guard let context, !closed else { return }
        context.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }

    func abort() {
        guard let context, !closed else { return }
        closed = true
        context.close(promise: nil)
    }
}
