#if canImport(Glibc)
import Glibc
#endif
import HTTP1
import MemberConnections
import NIOCore

/// One request/response pair in flight: what the access log and the counters need, and the
/// member connection carrying it. Each exchange has one owner, the client side that read its
/// request (an HTTP/1.1 `ClientHandler` or an `HTTP2Stream`); where the exchange
/// stands is that owner's state machine's business (`ExchangeProgress`), not a flag here.
package final class Exchange {
    package let head: RequestHead?
    package let start: NIODeadline
    package let startWall: timespec
    package var ruleIndex: Int?
    package var farmIndex = -1
    package var member = -1
    package var memberConnection: MemberHandler?
    package var requestFramer = BodyFramer(.none)
    package var requestSentAt: NIODeadline = .distantFuture
    package var boundByRequest = false
    package var isUpgrade = false
    /// `Set-Cookie` value to add to the response (cookie persistence, no valid cookie sent).
    package var setCookie: String?
    /// `Retry-After` seconds of edgesplit's own 429.
    package var retryAfter: Int?
    /// The client speaks HTTP/1.0 and the response is chunked: send payload bytes only.
    package var dechunk = false
    package var countedOutstanding = false
    package var logged = false
    package var maxBody: UInt64?
    /// Request body payload bytes (without chunked framing), checked against `maxBody`.
    package var payloadBytes: UInt64 = 0
    package var status = 0
    package var bytesIn = 0
    package var bytesOut = 0

    package init(head: RequestHead?, start: NIODeadline) {
        self.head = head
        self.start = start
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        self.startWall = now
    }

    /// What the planner chose for a forwarded request.
    package func apply(_ plan: ForwardPlan) {
        ruleIndex = plan.rule
        farmIndex = plan.farm
        member = plan.member
        maxBody = plan.maxBody
        setCookie = plan.setCookie
        boundByRequest = plan.boundByRequest
        isUpgrade = plan.isUpgrade
    }

    /// Detaches and closes the member connection, if any: it carried part of this exchange
    /// and cannot be reused.
    package func closeMemberConnection() {
        guard let memberConnection else { return }
        self.memberConnection = nil
        memberConnection.close()
    }
}
