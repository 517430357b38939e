import ConnectionCore
import XCTest

typealias Machine = HTTP1ConnectionStateMachine

/// Every event in every state: the legal ones do what the connection needs, the others close
/// the connection (`.abort`, or nothing once closed) — never a trap.
final class HTTP1ConnectionStateMachineTests: XCTestCase {
    // MARK: Reaching each state

    enum Reach: CaseIterable {
        case handshaking, idle, idleHeadStarted, connecting, attachedWithBody, awaitingResponse, responding, tunnel, closed
    }

    static func machine(_ reach: Reach) -> Machine {
        var m = Machine(tls: reach == .handshaking)
        switch reach {
        case .handshaking, .idle:
            break
        case .idleHeadStarted:
            m.headStarted()
        case .connecting:
            _ = m.requestHead(keepAlive: true, plan: .forward(requestComplete: true, idempotent: true))
        case .attachedWithBody:
            _ = m.requestHead(keepAlive: true, plan: .forward(requestComplete: false, idempotent: false))
            _ = m.memberAttached(reused: false)
        case .awaitingResponse:
            _ = m.requestHead(keepAlive: true, plan: .forward(requestComplete: true, idempotent: true))
            _ = m.memberAttached(reused: false)
        case .responding:
            _ = m.requestHead(keepAlive: true, plan: .forward(requestComplete: true, idempotent: true))
            _ = m.memberAttached(reused: false)
            _ = m.memberResponseHead(bodyUntilClose: false, dechunk: false)
        case .tunnel:
            _ = m.requestHead(keepAlive: true, plan: .forward(requestComplete: true, idempotent: true))
            _ = m.memberAttached(reused: false)
            _ = m.memberSwitchedProtocols(upgradeRequested: true)
        case .closed:
            _ = m.abort()
        }
        return m
    }

    /// Every event the handler can report, by name.
    static let events: [(String, (inout Machine) -> Machine.Action)] = [
        ("handshakeCompleted", { $0.handshakeCompleted(http2: false) }),
        ("handshakeCompleted h2", { $0.handshakeCompleted(http2: true) }),
        ("requestHead answer", { $0.requestHead(keepAlive: true, plan: .answer(status: 404, hasBody: false)) }),
        ("requestHead forward", { $0.requestHead(keepAlive: true, plan: .forward(requestComplete: true, idempotent: true)) }),
        ("requestHeadInvalid", { $0.requestHeadInvalid(status: 400) }),
        ("memberAttached", { $0.memberAttached(reused: true) }),
        ("requestHeadSent", { $0.requestHeadSent() }),
        ("requestBodySent", { $0.requestBodySent(complete: false) }),
        ("requestBodySent complete", { $0.requestBodySent(complete: true) }),
        ("requestBodyRefused", { $0.requestBodyRefused(status: 413) }),
        ("memberConnectFailed", { $0.memberConnectFailed(otherMember: true, timedOut: false) }),
        ("memberInformational", { $0.memberInformational() }),
        ("memberResponseHead", { $0.memberResponseHead(bodyUntilClose: false, dechunk: false) }),
        ("memberSwitchedProtocols", { $0.memberSwitchedProtocols(upgradeRequested: true) }),
        ("memberBody", { $0.memberBody() }),
        ("memberResponseEnd", { $0.memberResponseEnd(reusable: true) }),
        ("memberFailed", { $0.memberFailed(responseBegun: false) }),
        ("memberClosedTunnel", { $0.memberClosedTunnel() }),
        ("timerFired", { $0.timerFired() }),
        ("drain", { $0.drain(gentle: false, inputPending: false) }),
        ("abort", { $0.abort() }),
    ]

    /// The events that make sense in each state; everything else must close the connection.
    static let legal: [Reach: Set<String>] = [
        .handshaking: ["handshakeCompleted", "handshakeCompleted h2", "timerFired", "drain", "abort"],
        .idle: ["requestHead answer", "requestHead forward", "requestHeadInvalid", "timerFired", "drain", "abort"],
        .idleHeadStarted: ["requestHead answer", "requestHead forward", "requestHeadInvalid", "timerFired", "drain", "abort"],
        .connecting: ["memberAttached", "memberConnectFailed", "timerFired", "drain", "abort"],
        .attachedWithBody: [
            "requestHeadSent", "requestBodySent", "requestBodySent complete", "requestBodyRefused", "memberInformational",
            "memberResponseHead", "memberSwitchedProtocols", "memberFailed", "timerFired", "drain", "abort",
        ],
        .awaitingResponse: [
            "requestHeadSent", "memberInformational", "memberResponseHead", "memberSwitchedProtocols", "memberFailed",
            "timerFired", "drain", "abort",
        ],
        .responding: ["memberBody", "memberResponseEnd", "timerFired", "drain", "abort"],
        .tunnel: ["memberBody", "timerFired", "drain", "abort"],
        .closed: ["drain"],
    ]

    func testEveryEventInEveryState() {
        for reach in Reach.allCases {
            for (name, event) in Self.events {
                var m = Self.machine(reach)
                let action = event(&m)
                let isLegal = Self.legal[reach]!.contains(name)
                if !isLegal {
                    if reach == .closed {
                        XCTAssertEqual(action, .none, "\(name) when closed")
                    } else {
                        XCTAssertEqual(action, .abort, "\(name) in \(reach) must close")
                    }
                    XCTAssertEqual(m.state, .closed, "\(name) in \(reach) leaves the machine closed")
                    // And nothing after it does anything but nothing.
                    for (after, follow) in Self.events where after != "drain" {
                        var closed = m
                        XCTAssertEqual(follow(&closed), .none, "\(after) after an illegal \(name) in \(reach)")
                    }
                } else if name != "abort" && name != "timerFired" && name != "drain" {
                    XCTAssertNotEqual(action, .abort, "\(name) in \(reach) is legal")
                }
            }
        }
    }

    // MARK: Legal paths

    func testTLSHandshakeThenHTTP1OrHTTP2() {
        var m = Machine(tls: true)
        XCTAssertEqual(m.timeout, .handshake)
        XCTAssertEqual(m.handshakeCompleted(http2: false), .processInput)
        XCTAssertEqual(m.state, .idle(headStarted: false))
        var h2 = Machine(tls: true)
        XCTAssertEqual(h2.handshakeCompleted(http2: true), .switchToHTTP2)
        XCTAssertEqual(h2.state, .closed)
    }

    func testLocalAnswersKeepTheConnectionForTheNextRequest() {
        var m = Machine(tls: false)
        for served in 1...1000 {
            m.headStarted()
            XCTAssertEqual(m.requestHead(keepAlive: true, plan: .answer(status: 404, hasBody: false)), .answer(status: 404, close: false))
            XCTAssertEqual(m.state, .idle(headStarted: false))
            XCTAssertEqual(m.exchangesServed, served)
        }
        XCTAssertEqual(m.timeout, .keepAlive)
    }

    func testLocalAnswerToARequestWithABodyCloses() {
        var m = Machine(tls: false)
        XCTAssertEqual(m.requestHead(keepAlive: true, plan: .answer(status: 403, hasBody: true)), .answer(status: 403, close: true))
        XCTAssertEqual(m.state, .closed)
    }

    func testConnectionCloseAndHTTP10Close() {
        var m = Machine(tls: false)
        XCTAssertEqual(m.requestHead(keepAlive: false, plan: .answer(status: 404, hasBody: false)), .answer(status: 404, close: true))
        var f = Machine(tls: false)
        XCTAssertEqual(f.requestHead(keepAlive: false, plan: .forward(requestComplete: true, idempotent: true)), .obtainMember)
        XCTAssertEqual(f.memberAttached(reused: false), .sendRequest)
        XCTAssertEqual(f.requestHeadSent(), .requestSent)
        XCTAssertEqual(f.memberResponseHead(bodyUntilClose: false, dechunk: false), .writeResponseHead(close: true))
        XCTAssertEqual(f.memberResponseEnd(reusable: true), .completeExchange(keepMember: true, close: true))
        XCTAssertEqual(f.state, .closed)
    }

    func testForwardedExchangeWithBody() {
        var m = Machine(tls: false)
        XCTAssertEqual(m.requestHead(keepAlive: true, plan: .forward(requestComplete: false, idempotent: false)), .obtainMember)
        XCTAssertFalse(m.consumesInput, "body bytes wait while the member connects")
        XCTAssertEqual(m.memberAttached(reused: false), .sendRequest)
        XCTAssertEqual(m.requestHeadSent(), .processInput)
        XCTAssertTrue(m.consumesInput)
        XCTAssertEqual(m.timeout, .exchange(.idle))
        XCTAssertEqual(m.requestBodySent(complete: false), .none)
        XCTAssertEqual(m.requestBodySent(complete: true), .requestSent)
        XCTAssertEqual(m.timeout, .exchange(.response))
        XCTAssertFalse(m.consumesInput, "the next request waits for this response")
        XCTAssertEqual(m.memberInformational(), .writeInformational)
        XCTAssertEqual(m.memberResponseHead(bodyUntilClose: false, dechunk: false), .writeResponseHead(close: false))
        XCTAssertEqual(m.timeout, .exchange(.idle))
        XCTAssertEqual(m.memberBody(), .writeBody)
        XCTAssertEqual(m.memberResponseEnd(reusable: true), .completeExchange(keepMember: true, close: false))
        XCTAssertEqual(m.state, .idle(headStarted: false))
    }

    func testEarlyResponseLeavesTheRequestBodyUnreadAndCloses() {
        var m = Self.machine(.attachedWithBody)
        XCTAssertEqual(m.memberResponseHead(bodyUntilClose: false, dechunk: false), .writeResponseHead(close: true))
        XCTAssertEqual(m.memberResponseEnd(reusable: true), .completeExchange(keepMember: false, close: true))
    }

    func testAMemberThatAnsweredBeforeTheWholeRequestIsNotReused() {
        // The member answered early, the client's body then ended anyway: the member may not
        // have read it, so its connection never carries another request.
        var m = Self.machine(.attachedWithBody)
        XCTAssertEqual(m.memberResponseHead(bodyUntilClose: false, dechunk: false), .writeResponseHead(close: true))
        XCTAssertEqual(m.requestBodySent(complete: true), .requestSent)
        XCTAssertEqual(m.memberResponseEnd(reusable: true), .completeExchange(keepMember: false, close: true))
    }

    func testResponseFramedByCloseOrDechunkedCloses() {
        var a = Self.machine(.awaitingResponse)
        XCTAssertEqual(a.memberResponseHead(bodyUntilClose: true, dechunk: false), .writeResponseHead(close: true))
        var b = Self.machine(.awaitingResponse)
        XCTAssertEqual(b.memberResponseHead(bodyUntilClose: false, dechunk: true), .writeResponseHead(close: true))
    }

    func testUnaskedUpgradeIs502() {
        var m = Self.machine(.awaitingResponse)
        XCTAssertEqual(m.memberSwitchedProtocols(upgradeRequested: false), .answer(status: 502, close: true))
    }

    func testBodyRefusals() {
        var m = Self.machine(.attachedWithBody)
        XCTAssertEqual(m.requestBodyRefused(status: 413), .answer(status: 413, close: true))
        XCTAssertEqual(m.state, .closed)
    }

    // MARK: Member failures

    func testConnectFailureTriesOneOtherMember() {
        var m = Self.machine(.connecting)
        XCTAssertEqual(m.memberConnectFailed(otherMember: true, timedOut: false), .obtainMember)
        XCTAssertEqual(m.memberConnectFailed(otherMember: true, timedOut: true), .answer(status: 504, close: false))
        var n = Self.machine(.connecting)
        XCTAssertEqual(n.memberConnectFailed(otherMember: false, timedOut: false), .answer(status: 502, close: false))
    }

    func testReusedConnectionFailureResendsOnlyWhatTheMemberCannotHaveActedOn() {
        // GET on a reused connection, nothing back: resent once.
        var m = Machine(tls: false)
        _ = m.requestHead(keepAlive: true, plan: .forward(requestComplete: true, idempotent: true))
        _ = m.memberAttached(reused: true)
        XCTAssertEqual(m.memberFailed(responseBegun: false), .obtainMember)
        XCTAssertEqual(m.memberAttached(reused: true), .sendRequest)
        XCTAssertEqual(m.memberFailed(responseBegun: false), .answer(status: 502, close: false), "only once")
        // Part of a response head had arrived: not resent.
        var begun = Machine(tls: false)
        _ = begun.requestHead(keepAlive: true, plan: .forward(requestComplete: true, idempotent: true))
        _ = begun.memberAttached(reused: true)
        XCTAssertEqual(begun.memberFailed(responseBegun: true), .answer(status: 502, close: false))
        // POST without a body: not idempotent, not resent.
        var post = Machine(tls: false)
        _ = post.requestHead(keepAlive: true, plan: .forward(requestComplete: true, idempotent: false))
        _ = post.memberAttached(reused: true)
        XCTAssertEqual(post.memberFailed(responseBegun: false), .answer(status: 502, close: false))
        // A fresh connection: the member failed, not a race.
        var fresh = Machine(tls: false)
        _ = fresh.requestHead(keepAlive: true, plan: .forward(requestComplete: true, idempotent: true))
        _ = fresh.memberAttached(reused: false)
        XCTAssertEqual(fresh.memberFailed(responseBegun: false), .answer(status: 502, close: false))
        // Body bytes sent: nothing to resend from.
        var body = Machine(tls: false)
        _ = body.requestHead(keepAlive: true, plan: .forward(requestComplete: false, idempotent: true))
        _ = body.memberAttached(reused: true)
        _ = body.requestBodySent(complete: false)
        XCTAssertEqual(body.memberFailed(responseBegun: false), .answer(status: 502, close: true))
    }

    func testFailureAfterTheResponseHeadAborts() {
        var m = Self.machine(.responding)
        XCTAssertEqual(m.memberFailed(responseBegun: true), .abort)
        XCTAssertEqual(m.state, .closed)
    }

    // MARK: Timers and draining

    func testTimeouts() {
        var idle = Machine(tls: false)
        XCTAssertEqual(idle.timeout, .requestHead)
        XCTAssertEqual(idle.timerFired(), .closeGracefully)
        var slow = Machine(tls: false)
        slow.headStarted()
        XCTAssertEqual(slow.timerFired(), .answer(status: 408, close: true))
        var waiting = Self.machine(.awaitingResponse)
        XCTAssertEqual(waiting.timerFired(), .answer(status: 504, close: false))
        var responding = Self.machine(.responding)
        XCTAssertEqual(responding.timerFired(), .abort)
        var tunnel = Self.machine(.tunnel)
        XCTAssertEqual(tunnel.timeout, .tunnel)
        XCTAssertEqual(tunnel.timerFired(), .abort)
        var handshake = Machine(tls: true)
        XCTAssertEqual(handshake.timerFired(), .abort)
        var connecting = Self.machine(.connecting)
        XCTAssertEqual(connecting.timerFired(), .answer(status: 504, close: false), "still connecting: 504, not a reset")
    }

    func testDrain() {
        var idle = Machine(tls: false)
        XCTAssertEqual(idle.drain(gentle: false, inputPending: false), .closeGracefully)
        var gentle = Machine(tls: false)
        XCTAssertEqual(gentle.drain(gentle: true, inputPending: false), .none)
        XCTAssertEqual(gentle.requestHead(keepAlive: true, plan: .answer(status: 404, hasBody: false)), .answer(status: 404, close: true))
        var busy = Self.machine(.awaitingResponse)
        XCTAssertEqual(busy.drain(gentle: false, inputPending: false), .none)
        XCTAssertEqual(busy.memberResponseHead(bodyUntilClose: false, dechunk: false), .writeResponseHead(close: true))
        var input = Machine(tls: false)
        XCTAssertEqual(input.drain(gentle: false, inputPending: true), .none, "a request under way is answered first")
    }

    func testIdempotentMethods() {
        for method in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            XCTAssertTrue(ExchangeProgress.isIdempotent(method: ArraySlice(method.utf8)), method)
        }
        for method in ["POST", "PATCH", "get", "CONNECT", "RPC_IN_DATA"] {
            XCTAssertFalse(ExchangeProgress.isIdempotent(method: ArraySlice(method.utf8)), method)
        }
    }
}
