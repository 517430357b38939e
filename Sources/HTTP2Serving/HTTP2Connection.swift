import Affinity
import Forwarding
import NIOCore
import NIOHTTP2

/// One client connection speaking HTTP/2 (ALPN `h2`) after its TLS handshake.
///
/// The pipeline after TLS reads: `FlushCoalescer` (one TLS write per turn of the event loop for
/// all the streams that flushed in it) → `NIOHTTP2Handler` (frames, HPACK, the connection and
/// stream state machines, flow-control accounting and the outbound buffer that holds DATA until
/// the client's window allows it, the stream limits and the rapid-reset defence) → this
/// handler, which also closes an idle connection and shuts one down with GOAWAY.
///
/// There is no channel per stream. This handler reads the frames of every stream and hands each
/// to its `HTTP2Stream`, which maps the stream to one HTTP/1.1 exchange with a farm member; a
/// stream writes its frames back through here. A channel per stream (the library's
/// multiplexer) cost a pipeline, its contexts and promises, and the stream's frames passed
/// through two pipelines each way: about a third of an HTTP/2 request's instructions.
///
/// Without the multiplexer, what it did for flow control is done here, by the rules of
/// RFC 9113 §6.9:
/// - **What the client sends.** The connection's window is granted back as the library reports
///   it consumed (at half the target, as the multiplexer did). A stream's window is granted
///   back only while its stream can take more (`HTTP2Stream.wantsInput`), so a member that
///   does not read holds back its client's upload: at most one window per stream is buffered.
/// - **What edgesplit sends.** The library holds DATA until the client's windows allow it; the
///   bytes written and not yet sent by it are counted per stream and for the connection, from
///   each DATA write until the library writes the frame on (`FrameWatch` sees it) or the
///   stream's close drops it (`unsent`). A stream over `maxStreamUnsent`, a connection over
///   `maxUnsent`, or a TLS channel that is not writable (what was sent waits there) stops
///   reading members until enough has left (`HTTP2Stream.isClientWritable`). Counting what
///   left, not windows, is what bounds the memory: a client that opens its windows a byte at a
///   time gets a byte at a time, and members are read no faster.
final class HTTP2Connection: ChannelInboundHandler, ClientConnection {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// The window this side keeps open for the client, per stream and for the connection:
    /// HTTP/2's default initial window, which edgesplit's SETTINGS leave as it is.
    static let targetWindow = 65_535

    let worker: Worker
    let listenerIndex: Int
    let client: ClientAddress?
    let clientText: String
    let clientTextBytes: [UInt8]
    /// The connection's place in its source's limit counts: each stream is one request.
    let sourceTicket: SourceTicket?
    private var context: ChannelHandlerContext?
    private var closed = false
    /// The open streams that reached this handler (their HEADERS did), by stream id. A stream
    /// leaves when the library reports it closed.
    private var streams: [HTTP2StreamID: HTTP2Stream] = [:]
    /// Streams that read something in the current read of the connection: their member
    /// connections are flushed when it completes.
    private var readers: [HTTP2Stream] = []
    /// DATA bytes written on the connection's streams that the library has not sent yet.
    private(set) var unsent = 0
    /// The most DATA a connection, and one stream, may have written and not yet sent before
    /// members stop being read: more than one member read, so a client whose windows keep
    /// up never waits for it.
    static let maxUnsent = 256 * 1024
    static let maxStreamUnsent = 64 * 1024
    /// The forwarded request head of the stream being attached to a member, built here so its
    /// storage is reused from stream to stream.
    var headScratch: [UInt8] = []
    /// A grant of the connection's inbound window is written and not yet seen applied: no
    /// other is written until an event shows the window rise (events queued before the grant
    /// carry the window without it).
    private var grantPending = false
    /// A `resumeSoon` task is scheduled.
    private var resumeScheduled = false
    /// The inbound window the last event reported.
    private var lastInboundWindow = HTTP2Connection.targetWindow
    /// The frames the library writes: DATA sent, and whether it answered a connection error
    /// with GOAWAY.
    private let frameWatch = FrameWatch()
    /// The first GOAWAY's PING goes unanswered for this long: the final GOAWAY goes anyway.
    static let pingAckTimeout = TimeAmount.seconds(2)
    private var pingTimer: Scheduled<Void>?
    /// The highest stream id the client opened: the last stream the final GOAWAY lets finish.
    private var lastStreamID = HTTP2StreamID.rootStream
    /// How long the connection may stay without an open stream before it is closed, and how
    /// long a finished stream may stay open (`HTTP2Stream.checkDeadline`).
    let maxIdle: TimeAmount
    /// Since when no stream has been open; nil while one is.
    private var idleSince: NIODeadline? = .now()
    private var idleTimer: Scheduled<Void>?
    private var shutdown = GracefulShutdown.none
    /// The one timer for all the streams' deadlines, and when it fires.
    private var streamTimer: Scheduled<Void>?
    private var streamTimerDeadline: NIODeadline = .distantFuture

    init(worker: Worker, listenerIndex: Int, client: ClientAddress?, clientText: String, sourceTicket: SourceTicket?) {
        self.worker = worker
        self.sourceTicket = sourceTicket
        self.listenerIndex = listenerIndex
        self.client = client
        self.clientText = clientText
        self.clientTextBytes = Array(clientText.utf8)
        self.maxIdle = worker.runtime.config.timeouts.requestHead.timeAmount
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
        frameWatch.connection = self
        let http2 = NIOHTTP2Handler(
            mode: .server, frameDelegate: frameWatch, connectionConfiguration: connection, streamConfiguration: stream
        )
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(FlushCoalescer())
        try sync.addHandler(http2)
        try sync.addHandler(self)
        // Added to an active channel, NIOHTTP2Handler sends its SETTINGS at once.
        worker.stats.http2.connections &+= 1
        armIdleTimer()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        endAllStreams()
        cancelTimers()
        worker.unregister(self, handshakeFailed: false)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        frameWatch.connection = nil
        endAllStreams()
        cancelTimers()
        worker.unregister(self, handshakeFailed: false)
        self.context = nil
    }

    // MARK: Frames and events from the library

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            let stream: HTTP2Stream
            if let open = streams[frame.streamID] {
                stream = open
            } else {
                // The library passes HEADERS for an unknown id only when they open a new
                // stream (it answers those on closed or idle-but-lower ids itself).
                stream = HTTP2Stream(connection: self, id: frame.streamID)
                streams[frame.streamID] = stream
                if frame.streamID > lastStreamID { lastStreamID = frame.streamID }
                idleSince = nil
                worker.stats.http2.streams &+= 1
            }
            noteReader(stream)
            stream.receiveHeaders(headers)
        case .data(let data):
            guard let stream = streams[frame.streamID] else { return }
            noteReader(stream)
            stream.receiveData(data)
        case .ping(let data, ack: true):
            if case .pinged(let sent) = shutdown, data == sent { finalGoAway() }
        default:
            // RST_STREAM ends its stream through the StreamClosedEvent that follows; SETTINGS,
            // PING, PRIORITY and GOAWAY are the library's.
            break
        }
    }

    /// The library's stream events. Several come with every stream, so each is recognised by
    /// its type's identity first: a failed `as?` cast costs far more than a pointer compare.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        let type = ObjectIdentifier(Swift.type(of: event))
        if type == Self.windowUpdated, let window = event as? NIOHTTP2WindowUpdatedEvent {
            guard window.streamID == .rootStream, let size = window.inboundWindowSize else { return }
            // The inbound window after DATA: granted back at half the target, as the library's
            // multiplexer does; streams grant their own (`HTTP2Stream`). Only the grant makes
            // the window rise, so a rise shows it applied (`grantPending`).
            if size > lastInboundWindow { grantPending = false }
            lastInboundWindow = size
            if !grantPending, size <= Self.targetWindow / 2 {
                grantPending = true
                write(.windowUpdate(windowSizeIncrement: Self.targetWindow - size), on: .rootStream)
            }
        } else if type == Self.streamClosed, let closed = event as? StreamClosedEvent {
            if let stream = streams[closed.streamID], stream.closed() {
                streams.removeValue(forKey: closed.streamID)
                if streams.isEmpty { becameIdle() }
            }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private static let windowUpdated = ObjectIdentifier(NIOHTTP2WindowUpdatedEvent.self)
    private static let streamClosed = ObjectIdentifier(StreamClosedEvent.self)

    func channelReadComplete(context: ChannelHandlerContext) {
        for stream in readers { stream.clientReadComplete() }
        readers.removeAll(keepingCapacity: true)
        context.flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { resumeAllStreams() }
        context.fireChannelWritabilityChanged()
    }

    /// The HTTP/2 handler reports every stream and connection error it answered; the ones
    /// the limits caused are counted. The library has already sent RST_STREAM or GOAWAY for
    /// what the client sent; a stream error from what edgesplit wrote ends that stream.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        var base = error
        let streamError = error as? NIOHTTP2Errors.StreamError
        if let streamError { base = streamError.baseError }
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
        if let streamError {
            streams[streamError.streamID]?.failed()
        } else if error is any NIOHTTP2Error, !frameWatch.errorSent, !(error is NIOHTTP2Errors.RaisedGoawayLastStreamID) {
            // An error in what the client sent on one stream (a body longer than its
            // content-length, a stream's window overrun): the library reset that stream, and
            // its StreamClosedEvent ends it here. The other streams go on. (After the final
            // GOAWAY the library's GOAWAY for a connection error is refused with
            // RaisedGoawayLastStreamID: that closes.)
        } else {
            // A connection error, answered with GOAWAY, or the TLS channel's own: close.
            context.close(promise: nil)
        }
    }

    // MARK: For the streams

    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }

    /// Whether the TLS channel takes more and the connection's unsent DATA is under its limit.
    var isWritable: Bool { unsent < Self.maxUnsent && (context?.channel.isWritable ?? false) }

    /// `count` DATA bytes of a stream were written.
    func dataWritten(_ count: Int) {
        unsent += count
    }

    /// The library sent `count` bytes of stream `id`'s DATA on.
    func dataSent(_ count: Int, on id: HTTP2StreamID) {
        if let stream = streams[id] { stream.dataSent(count) }
    }

    /// `count` DATA bytes were sent, or dropped with their stream.
    func dataLeft(_ count: Int) {
        let wasOver = unsent >= Self.maxUnsent
        unsent -= count
        if wasOver && unsent < Self.maxUnsent { resumeSoon() }
    }

    /// Member reads resume after the step in progress: bytes are counted off from inside the
    /// HTTP/2 handler's write of a frame, where nothing should reach back into it.
    func resumeSoon() {
        guard !resumeScheduled, let context else { return }
        resumeScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            resumeScheduled = false
            resumeAllStreams()
        }
    }

    /// Writes one frame of stream `id`; DATA counts against the connection's send window.
    func write(_ payload: HTTP2Frame.FramePayload, on id: HTTP2StreamID, promise: EventLoopPromise<Void>? = nil) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: payload)), promise: promise)
    }

    func makePromise() -> EventLoopPromise<Void>? {
        context?.eventLoop.makePromise()
    }

    func flush() {
        context?.flush()
    }

    /// A stream the library closed early (`HTTP2Stream.closed()`) has completed its exchange.
    func closedStreamCompleted(_ id: HTTP2StreamID) {
        guard streams.removeValue(forKey: id) != nil else { return }
        if streams.isEmpty { becameIdle() }
    }

    /// A stream's deadline: the connection's one timer for its streams fires no later than it.
    /// Steps that only move a deadline later leave the timer as it is; when it fires, each
    /// stream checks its own deadline and names the next.
    func streamDeadline(_ deadline: NIODeadline) {
        if streamTimer != nil, deadline >= streamTimerDeadline { return }
        guard let context else { return }
        streamTimer?.cancel()
        streamTimerDeadline = deadline
        // Strong, cancelled when the connection goes.
        streamTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            streamTimer = nil
            let now = NIODeadline.now()
            // A stream's answer may close streams, and so change `streams`, while this runs.
            for stream in Array(streams.values) { stream.checkDeadline(now: now) }
        }
    }

    private func noteReader(_ stream: HTTP2Stream) {
        guard !stream.isReader else { return }
        stream.isReader = true
        readers.append(stream)
    }

    private func resumeAllStreams() {
        for stream in streams.values { stream.clientBecameWritable() }
    }

    /// The connection is gone: every stream still open ends (its exchange, if any, as the
    /// client's 499), once.
    private func endAllStreams() {
        let ending = streams.values
        streams.removeAll()
        readers.removeAll()
        for stream in ending { _ = stream.closed() }
    }

    // MARK: Idle and shutdown

    /// Where a graceful shutdown stands (RFC 9113 §6.8): a first GOAWAY naming the highest
    /// possible stream, so streams already on their way are still taken; a PING, whose answer
    /// shows the client has seen it; then the final GOAWAY naming the last stream opened, and
    /// the close once the open streams have finished.
    private enum GracefulShutdown: Equatable {
        case none
        case pinged(HTTP2PingData)
        case closing
    }

    /// The last open stream closed: the idle time starts, and a draining connection closes.
    private func becameIdle() {
        idleSince = .now()
        if case .closing = shutdown {
            closeAfterThisStep()
            return
        }
        armIdleTimer()
    }

    /// One timer for the idle time, kept while streams come and go: when it fires it looks at
    /// how long the connection has really been idle, and arms itself again if it was not long
    /// enough. Streams opening and closing do not reschedule it.
    private func armIdleTimer() {
        guard idleTimer == nil, let idleSince, let context else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: idleSince + maxIdle) { [self] in
            idleTimer = nil
            guard let idleSince = self.idleSince, !closed else { return }
            if NIODeadline.now() >= idleSince + maxIdle {
                // Nothing is open and nothing was asked for a whole idle time: the final
                // GOAWAY at once, and the close.
                finalGoAway()
            } else {
                armIdleTimer()
            }
        }
    }

    private func cancelTimers() {
        idleTimer?.cancel()
        idleTimer = nil
        streamTimer?.cancel()
        streamTimer = nil
        pingTimer?.cancel()
        pingTimer = nil
    }

    /// The first GOAWAY and its PING.
    private func startShutdown() {
        guard case .none = shutdown, let context, !closed else { return }
        let ping = HTTP2PingData(withInteger: UInt64.random(in: 0...UInt64.max))
        shutdown = .pinged(ping)
        write(.goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil), on: .rootStream)
        write(.ping(ping, ack: false), on: .rootStream)
        context.flush()
        pingTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.pingAckTimeout) { [self] in
            pingTimer = nil
            finalGoAway()
        }
    }

    /// The final GOAWAY: streams above the last one opened are refused, the ones open finish,
    /// and the connection closes when none is left.
    private func finalGoAway() {
        guard shutdown != .closing, let context, !closed else { return }
        shutdown = .closing
        pingTimer?.cancel()
        pingTimer = nil
        write(.goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil), on: .rootStream)
        context.flush()
        if streams.isEmpty { closeAfterThisStep() }
    }

    /// Closes the connection once the step in progress is over. The last stream's close is
    /// reported from inside the HTTP/2 handler's flush, before that flush has passed the
    /// stream's last frames on toward TLS: a close from there would overtake them.
    private func closeAfterThisStep() {
        guard let context else { return }
        context.eventLoop.assumeIsolated().execute { [self] in
            guard !closed else { return }
            self.context?.close(promise: nil)
        }
    }

    // MARK: ClientConnection

    /// GOAWAY, then close once the open streams have finished (see `GracefulShutdown`).
    func drain(gentle: Bool) {
        startShutdown()
    }

    func abort() {
        guard let context, !closed else { return }
        closed = true
        context.close(promise: nil)
    }
}

/// Sees the frames the HTTP/2 handler writes on toward TLS: the DATA it sends (what left its
/// flow-control buffer, counted off the stream's `unsent`), and whether it answered a
/// connection error with GOAWAY. The handler reports errors in what the client sent the same way
/// whether they end one stream (RST_STREAM) or the connection (GOAWAY); only the latter closes it.
/// It holds its connection strongly; the connection lets go when it leaves the pipeline.
final class FrameWatch: NIOHTTP2FrameDelegate {
    var connection: HTTP2Connection?
    private(set) var errorSent = false

    func wroteFrame(_ frame: HTTP2Frame) {
        switch frame.payload {
        case .data(let data):
            let count = data.data.readableBytes
            if count > 0 { connection?.dataSent(count, on: frame.streamID) }
        case .goAway(_, let code, _):
            if code != .noError { errorSent = true }
        default:
            break
        }
    }
}
