import HTTP1
import NIOCore
import NIOSSL

/// The farm-member side of a proxied exchange: parses the member's response head, tracks
/// the response body's framing and hands both to the owning client side (`MemberOwner`),
/// which writes them to the client. Between exchanges the connection rests in the worker's
/// pool, or stays bound to one client connection after an NTLM/Negotiate exchange.
///
/// Backpressure: reads from the member stop while the client's channel is not writable.
package final class MemberHandler: ChannelDuplexHandler {
    package typealias InboundIn = ByteBuffer
    package typealias OutboundIn = ByteBuffer
    package typealias OutboundOut = ByteBuffer

    enum State {
        case awaitingHead
        case body(BodyFramer)
        case tunnel
        case idle
        case closed
    }

    /// The worker's pool: a pooled connection that speaks or closes leaves it.
    private let pool: MemberPool
    package let farmIndex: Int
    package let member: Int
    private(set) var context: ChannelHandlerContext?
    /// The client connection this exchange belongs to; nil while pooled.
    package var owner: MemberOwner?
    private var parser: HeadParser
    private var state: State = .idle
    private var requestMethod: ArraySlice<UInt8> = []
    private var readSuppressed = false
    /// When the connection last entered the pool (read by the pool's sweep).
    private(set) var idleSince: NIODeadline = .distantPast
    /// An NTLM or Negotiate exchange ran on this connection: it belongs to one client
    /// connection for the rest of its life (RFC 4559 §4 binds the handshake to it).
    package private(set) var authenticationBound = false
    /// Whether the member may be sent another request on this connection.
    private var reusable = true
    /// Set once the first response byte arrived for the current exchange.
    package private(set) var responseStarted = false
    /// The response body ends when the member closes (no length, not chunked).
    private var bodyUntilClose = false

    /// `limits`: the configuration's head limits, which apply to responses too.
    package init(pool: MemberPool, limits: HeadLimits, farmIndex: Int, member: Int) {
        self.pool = pool
        self.farmIndex = farmIndex
        self.member = member
        self.parser = HeadParser(kind: .response, limits: limits)
    }

    package var isUsable: Bool {
        guard let context, context.channel.isActive, case .idle = state else { return false }
        return reusable
    }

    package var isWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: Exchange

    /// Starts an exchange: the request head is written now, the body follows through `send`.
    package func begin(owner: MemberOwner, requestMethod: ArraySlice<UInt8>, head: ByteBuffer, boundByRequest: Bool) {
        self.owner = owner
        self.requestMethod = requestMethod
        self.responseStarted = false
        self.parser.reset()
        self.state = .awaitingHead
        if boundByRequest { authenticationBound = true }
        send(head, flush: false)
    }

    package func send(_ buffer: ByteBuffer, flush: Bool) {
        guard let context else { return }
        if flush {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else {
            context.write(wrapOutboundOut(buffer), promise: nil)
        }
    }

    package func flush() { context?.flush() }

    /// The client can take more bytes again.
    package func resumeReading() {
        guard readSuppressed, let context else { return }
        readSuppressed = false
        context.read()
    }

    package func close() {
        state = .closed
        owner = nil
        context?.close(promise: nil)
    }

    // MARK: Pool

    func enterPool(now: NIODeadline) {
        owner = nil
        state = .idle
        idleSince = now
    }

    // MARK: ChannelHandler

    package func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    package func read(context: ChannelHandlerContext) {
        if let owner, !owner.isClientWritable {
            readSuppressed = true
            return
        }
        context.read()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard let owner else {
            // A pooled connection must stay silent; anything else means it is out of sync.
            pool.remove(self)
            close()
            return
        }
        // Any byte from the member counts: a request is never sent again after the member
        // began to answer it, even with bytes that do not parse.
        if buffer.readableBytes > 0 { responseStarted = true }
        while buffer.readableBytes > 0 {
            switch state {
            case .awaitingHead:
                let result = buffer.withUnsafeReadableBytes { parser.parse($0) }
                switch result {
                case .needMore(let consumed):
                    buffer.moveReaderIndex(forwardBy: consumed)
                    responseStarted = true
                case .response(let head, let consumed):
                    buffer.moveReaderIndex(forwardBy: consumed)
                    responseStarted = true
                    parser.reset()
                    if head.isInformational {
                        owner.memberInformational(head)
                        guard self.owner === owner else { return }
                        continue
                    }
                    if head.containsValue("www-authenticate", where: Self.isConnectionBoundScheme) {
                        authenticationBound = true
                    }
                    if !head.keepAlive || head.hadConflictingFraming { reusable = false }
                    if head.isSwitchingProtocols {
                        state = .tunnel
                        reusable = false
                        owner.memberSwitchedProtocols(head)
                        guard self.owner === owner else { return }
                        continue
                    }
                    let framing = head.framing(requestMethod: requestMethod)
                    bodyUntilClose = false
                    if case .untilClose = framing {
                        reusable = false
                        bodyUntilClose = true
                    }
                    var framer = BodyFramer(framing)
                    state = .body(framer)
                    owner.memberResponseHead(head, framing: framing)
                    guard case .body = state, self.owner === owner else { return }
                    // A response without body completes with its head.
                    let empty = UnsafeRawBufferPointer(start: nil, count: 0)
                    if let progress = try? framer.consume(empty), progress.isComplete {
                        finishResponse(leftover: buffer.readableBytes)
                        return
                    }
                case .request:
                    failMalformed("unexpected message kind")
                    return
                case .failure(let error):
                    failMalformed(error.reason)
                    return
                }
            case .body(var framer):
                let progress: BodyProgress
                do {
                    progress = try buffer.withUnsafeReadableBytes { try framer.consume($0) }
                } catch {
                    failMalformed("bad response body framing")
                    return
                }
                state = .body(framer)
                if progress.consumed > 0 {
                    if owner.wantsDechunkedBody {
                        for range in progress.payload {
                            owner.memberBody(buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count)!)
                        }
                        buffer.moveReaderIndex(forwardBy: progress.consumed)
                    } else {
                        owner.memberBody(buffer.readSlice(length: progress.consumed)!)
                    }
                    guard self.owner === owner else { return }
                }
                if progress.isComplete {
                    finishResponse(leftover: buffer.readableBytes)
                    return
                }
            case .tunnel:
                owner.memberBody(buffer)
                return
            case .idle, .closed:
                reusable = false
                return
            }
        }
    }

    package func channelReadComplete(context: ChannelHandlerContext) {
        owner?.flushToClient()
    }

    package func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { owner?.memberBecameWritable() }
    }

    package func channelInactive(context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        reusable = false
        guard let owner else {
            pool.remove(self)
            return
        }
        self.owner = nil
        switch previous {
        case .body where bodyUntilClose:
            owner.memberResponseComplete(self, reusable: false)
        case .tunnel:
            owner.memberClosedTunnel()
        default:
            owner.memberFailed(self, MemberError.closedBeforeResponse)
        }
    }

    package func errorCaught(context: ChannelHandlerContext, error: Error) {
        reusable = false
        if let owner {
            self.owner = nil
            state = .closed
            owner.memberFailed(self, error)
        }
        context.close(promise: nil)
    }

    // MARK: Private

    /// The response is complete. Bytes after it (`leftover`) mean the member is out of step:
    /// the connection is not reused, and that is decided before the owner hears of the end,
    /// so the owner can never hand a desynchronised connection to the next request.
    private func finishResponse(leftover: Int) {
        if leftover > 0 { reusable = false }
        state = .idle
        owner?.memberResponseComplete(self, reusable: reusable)
    }

    private func failMalformed(_ reason: String) {
        reusable = false
        let owner = self.owner
        self.owner = nil
        state = .closed
        owner?.memberFailed(self, MemberError.malformedResponse(reason))
        context?.close(promise: nil)
    }

    /// NTLM and Negotiate authenticate the connection, not the request. Inlinable: the
    /// exchange planner asks it of every request's `Authorization` values.
    @inlinable
    package static func isConnectionBoundScheme<Value: Collection>(_ value: Value) -> Bool where Value.Element == UInt8 {
        startsWithScheme(value, "ntlm") || startsWithScheme(value, "negotiate")
    }

    @inlinable
    package static func startsWithScheme<Value: Collection>(_ value: Value, _ scheme: StaticString) -> Bool where Value.Element == UInt8 {
        let s = UnsafeBufferPointer(start: scheme.utf8Start, count: scheme.utf8CodeUnitCount)
        var index = value.startIndex
        for expected in s {
            guard index != value.endIndex, value[index] | 0x20 == expected else { return false }
            index = value.index(after: index)
        }
        return index == value.endIndex || value[index] == 0x20
    }
}

/// Why a member connection failed on its own.
package enum MemberError: Error {
    /// The member's name did not resolve (at start or at its last health check).
    case unresolved
    case closedBeforeResponse
    case malformedResponse(String)
}
