/// The client side of one HTTP/1.1 connection as a state machine: events in, one action out.
///
/// It holds no bytes and does no I/O. `ClientHandler` parses, asks the publishing rules, and
/// reports each event here; the action that comes back is what it performs. The handler runs
/// its input in a loop: a request answered locally returns `.answer`, the handler writes it,
/// and its loop takes the next pipelined request — no path leads from finishing one exchange
/// back into processing the next, so a client cannot grow the stack with pipelined requests.
///
/// Modelled on swift-nio's own machines (NIOHTTP1's server pipeline handler,
/// AsyncHTTPClient's `HTTP1ConnectionStateMachine`): every event is legal in every state, and
/// an event that makes no sense where it arrives closes the connection instead of trapping.
///
/// ```
///            handshakeCompleted           requestHead(.forward)
/// handshaking ─────────────────► idle ───────────────────────► exchange ──memberResponseEnd──┐
///      │ h2: switchToHTTP2        ▲ │ requestHead(.answer)        │ 101                       │
///      ▼                          │ └──► answer ──┐                ▼                           │
///   (HTTP/2)                      └───────────────┴───────────── tunnel      idle ◄────────────┘
///                      any state ── close / abort / inactive ──► closed
/// ```
public struct HTTP1ConnectionStateMachine: Sendable {
    public enum State: Sendable, Equatable {
        /// The TLS handshake is under way (TLS listeners only).
        case handshaking
        /// Between requests, reading the next head; `headStarted` once its first byte came.
        case idle(headStarted: Bool)
        /// A request forwarded to a farm member.
        case exchange(ExchangeProgress)
        /// After a `101`: a byte tunnel both ways, no more HTTP.
        case tunnel
        /// Closing or closed: events are ignored.
        case closed
    }

    /// What the exchange planner decided for a request head.
    public enum Plan: Sendable, Equatable {
        /// edgesplit answers itself (no rule, a deny rule, a limit, `max_body`). `hasBody`:
        /// the request announced a body, which is not read, so the connection closes after.
        case answer(status: Int, hasBody: Bool)
        /// Forward to a member. `requestComplete`: the head carries the whole request.
        case forward(requestComplete: Bool, idempotent: Bool)
    }

    public enum Action: Sendable, Equatable {
        case none
        /// ALPN chose h2: the HTTP/2 side takes the connection over.
        case switchToHTTP2
        /// Parse buffered client bytes: a head when idle, body bytes when forwarding.
        case processInput
        /// Write edgesplit's own response with `status`, discarding any member connection of
        /// the exchange. With `close` it says `Connection: close` and the connection closes
        /// once it is written; otherwise the next request may be taken.
        case answer(status: Int, close: Bool)
        /// Find a member connection for the exchange: bound to this client, pooled, or new.
        case obtainMember
        /// A member connection is attached: write the forwarded head; body bytes follow.
        case sendRequest
        /// The whole request is at the member: flush it (the response timeout starts).
        case requestSent
        /// Write the member's 1xx to the client.
        case writeInformational
        /// Write the member's response head; with `close` it says `Connection: close`.
        case writeResponseHead(close: Bool)
        /// Write response body bytes.
        case writeBody
        /// A `101` for a WebSocket upgrade: write its head, then pass bytes both ways.
        case startTunnel
        /// The response is complete. `keepMember`: the member connection may carry another
        /// request (pool or NTLM binding), else it is closed. Then the connection closes
        /// (`close`) or waits for the next request.
        case completeExchange(keepMember: Bool, close: Bool)
        /// Close without a response: part of one was written, or the peer broke the protocol.
        case abort
        /// Flush what was written and close: nothing is in flight.
        case closeGracefully
    }

    /// Which timeout runs now; the handler turns it into a deadline from its clocks.
    public enum Timeout: Sendable, Equatable {
        case none
        /// `timeouts.tls_handshake` from the accept.
        case handshake
        /// `timeouts.request_head` from the head's first byte, or from the connection's start
        /// while no request has been served.
        case requestHead
        /// The last rule's `idle` from the last activity (a kept-alive connection between
        /// requests).
        case keepAlive
        /// The exchange's rule timeout (`response` or `idle`).
        case exchange(ExchangeProgress.Timeout)
        /// The rule's `idle` in a tunnel.
        case tunnel
    }

    public private(set) var state: State
    /// The connection ends after the current exchange: `Connection: close`, HTTP/1.0, a
    /// request body left unread, a response framed by close, draining.
    public private(set) var closeAfterExchange = false
    public private(set) var draining = false
    /// Exchanges finished on this connection (answered or completed).
    public private(set) var exchangesServed = 0

    public init(tls: Bool) {
        state = tls ? .handshaking : .idle(headStarted: false)
    }

    // MARK: Client events

    /// The TLS handshake completed; `http2` when ALPN chose h2.
    public mutating func handshakeCompleted(http2: Bool) -> Action {
        guard case .handshaking = state else { return abort() }
        if http2 {
            state = .closed
            return .switchToHTTP2
        }
        state = .idle(headStarted: false)
        return .processInput
    }

    /// The first byte of a request head arrived.
    public mutating func headStarted() {
        if case .idle(false) = state { state = .idle(headStarted: true) }
    }

    /// A request head was parsed, and the planner decided what to do with it.
    public mutating func requestHead(keepAlive: Bool, plan: Plan) -> Action {
        guard case .idle = state else { return abort() }
        if !keepAlive || draining { closeAfterExchange = true }
        switch plan {
        case .answer(let status, let hasBody):
            if hasBody { closeAfterExchange = true }
            return answered(status: status)
        case .forward(let requestComplete, let idempotent):
            state = .exchange(ExchangeProgress(requestComplete: requestComplete, idempotent: idempotent))
            return .obtainMember
        }
    }

    /// The head could not be parsed (`status` is 400, 414, 431, 505 …): answer and close.
    public mutating func requestHeadInvalid(status: Int) -> Action {
        guard case .idle = state else { return abort() }
        closeAfterExchange = true
        return answered(status: status)
    }

    /// A member connection was attached to the exchange (`reused`: pooled or bound).
    public mutating func memberAttached(reused: Bool) -> Action {
        guard case .exchange(var progress) = state, progress.member == .connecting else { return abort() }
        progress.attached(reused: reused)
        state = .exchange(progress)
        return .sendRequest
    }

    /// The forwarded head went out; `complete` when it carries the whole request.
    public mutating func requestHeadSent() -> Action {
        guard case .exchange(let progress) = state, progress.member == .attached, !progress.responseBegun else {
            return abort()
        }
        return progress.requestComplete ? .requestSent : .processInput
    }

    /// Request body bytes went to the member; `complete` when they ended the body.
    public mutating func requestBodySent(complete: Bool) -> Action {
        guard case .exchange(var progress) = state, progress.member == .attached, !progress.requestComplete else {
            return abort()
        }
        progress.sentBody()
        if complete { progress.requestEnded() }
        state = .exchange(progress)
        return complete ? .requestSent : .none
    }

    /// The request body broke its framing (400) or went over `max_body` (413). The member has
    /// part of a request: neither connection can be trusted any more.
    public mutating func requestBodyRefused(status: Int) -> Action {
        guard case .exchange(let progress) = state, !progress.requestComplete else { return abort() }
        closeAfterExchange = true
        return progress.responseStarted ? abort() : answered(status: status)
    }

    // MARK: Member events

    /// Opening a member connection failed before anything was sent.
    public mutating func memberConnectFailed(otherMember: Bool, timedOut: Bool) -> Action {
        guard case .exchange(var progress) = state, progress.member == .connecting else { return abort() }
        let outcome = progress.connectFailed(otherMember: otherMember, timedOut: timedOut)
        state = .exchange(progress)
        return failure(outcome, progress)
    }

    /// A 1xx arrived from the member.
    public mutating func memberInformational() -> Action {
        guard case .exchange(var progress) = state, progress.member == .attached, !progress.responseStarted else {
            return abort()
        }
        progress.responseBytesArrived()
        state = .exchange(progress)
        return .writeInformational
    }

    /// The member's final response head arrived. `bodyUntilClose`: its body ends with the
    /// connection; `dechunk`: an HTTP/1.0 client gets a chunked body bare, ended by close.
    public mutating func memberResponseHead(bodyUntilClose: Bool, dechunk: Bool) -> Action {
        guard case .exchange(var progress) = state, progress.member == .attached, !progress.responseStarted else {
            return abort()
        }
        progress.responseHeadSent()
        state = .exchange(progress)
        // A request body the member did not wait for is left unread: the client's next
        // bytes could not be told from a request.
        if bodyUntilClose || dechunk || draining || !progress.requestComplete { closeAfterExchange = true }
        return .writeResponseHead(close: closeAfterExchange)
    }

    /// The member answered `101 Switching Protocols`; `upgradeRequested` when the client
    /// asked for a WebSocket upgrade (the only one forwarded).
    public mutating func memberSwitchedProtocols(upgradeRequested: Bool) -> Action {
        guard case .exchange(var progress) = state, progress.member == .attached, !progress.responseStarted else {
            return abort()
        }
        guard upgradeRequested else {
            // Nothing of this response reached the client: it gets a 502, not a reset.
            closeAfterExchange = true
            return answered(status: 502)
        }
        progress.responseHeadSent()
        state = .tunnel
        return .startTunnel
    }

    /// Response body bytes arrived from the member.
    public mutating func memberBody() -> Action {
        switch state {
        case .exchange(let progress) where progress.responseStarted: return .writeBody
        case .tunnel: return .writeBody
        default: return abort()
        }
    }

    /// The member's response ended; `reusable` when its connection may carry another request
    /// (keep-alive, framing by length, no byte after the response).
    public mutating func memberResponseEnd(reusable: Bool) -> Action {
        guard case .exchange(let progress) = state, progress.responseStarted else { return abort() }
        let close = closeAfterExchange
        finishExchange()
        return .completeExchange(keepMember: progress.mayKeepMember(reusable: reusable), close: close)
    }

    /// The member connection failed or closed before its response was complete;
    /// `responseBegun` when bytes of a response had arrived on it.
    public mutating func memberFailed(responseBegun: Bool) -> Action {
        guard case .exchange(var progress) = state, progress.member == .attached else { return abort() }
        let outcome = progress.memberFailed(responseBegun: responseBegun)
        state = .exchange(progress)
        return failure(outcome, progress)
    }

    /// The member closed a tunnel.
    public mutating func memberClosedTunnel() -> Action {
        abort()
    }

    // MARK: Other events

    /// The current timeout (`timeout`) ran out.
    public mutating func timerFired() -> Action {
        switch state {
        case .handshaking, .tunnel:
            return abort()
        case .idle(let headStarted):
            guard headStarted else { return closeGracefully() }
            // Slowloris: a head that does not complete in time gets 408 and a close.
            closeAfterExchange = true
            return answered(status: 408)
        case .exchange(let progress):
            return failure(progress.timedOut(), progress)
        case .closed:
            return .none
        }
    }

    /// Shutdown or reload. The current exchange finishes with `Connection: close`. An idle
    /// connection closes now, unless `gentle` (reload) or input is waiting: then its next
    /// response says `Connection: close`, so a request under way is not lost.
    public mutating func drain(gentle: Bool, inputPending: Bool) -> Action {
        draining = true
        closeAfterExchange = true
        switch state {
        case .handshaking where !gentle, .idle(false) where !gentle && !inputPending:
            return closeGracefully()
        default:
            return .none
        }
    }

    /// The channel closed: nothing more happens on it.
    public mutating func channelInactive() {
        state = .closed
    }

    /// The handler closes the connection for its own reasons (an error from the pipeline).
    public mutating func abort() -> Action {
        if case .closed = state { return .none }
        state = .closed
        return .abort
    }

    // MARK: Queries

    /// The timeout that runs in the current state.
    public var timeout: Timeout {
        switch state {
        case .handshaking: return .handshake
        case .idle(let headStarted): return headStarted || exchangesServed == 0 ? .requestHead : .keepAlive
        case .exchange(let progress): return .exchange(progress.timeout)
        case .tunnel: return .tunnel
        case .closed: return .none
        }
    }

    /// Whether client bytes can be consumed now: heads when idle, body bytes once a member
    /// is attached, anything in a tunnel. Otherwise they wait in the handler's buffer.
    public var consumesInput: Bool {
        switch state {
        case .idle, .tunnel: return true
        case .exchange(let progress): return progress.member == .attached && !progress.requestComplete
        case .handshaking, .closed: return false
        }
    }

    /// The exchange's progress, when one is under way.
    public var exchange: ExchangeProgress? {
        if case .exchange(let progress) = state { return progress }
        return nil
    }

    // MARK: Private

    private mutating func closeGracefully() -> Action {
        state = .closed
        return .closeGracefully
    }

    /// An exchange ends with edgesplit's own answer.
    private mutating func answered(status: Int) -> Action {
        let close = closeAfterExchange
        finishExchange()
        return .answer(status: status, close: close)
    }

    private mutating func finishExchange() {
        exchangesServed += 1
        state = closeAfterExchange ? .closed : .idle(headStarted: false)
    }

    private mutating func failure(_ outcome: ExchangeProgress.FailureOutcome, _ progress: ExchangeProgress) -> Action {
        switch outcome {
        case .resend:
            return .obtainMember
        case .answer(let status):
            if !progress.requestComplete { closeAfterExchange = true }
            return answered(status: status)
        case .abort:
            return abort()
        }
    }
}
