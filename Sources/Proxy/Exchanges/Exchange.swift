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
final class Exchange {
    let head: RequestHead?
    let start: NIODeadline
    let startWall: timespec
    var ruleIndex: Int?
    var farmIndex = -1
    var member = -1
    var memberConnection: MemberHandler?
    var requestFramer = BodyFramer(.none)
    var requestSentAt: NIODeadline = .distantFuture
    var boundByRequest = false
    var isUpgrade = false
    /// `Set-Cookie` value to add to the response (cookie persistence, no valid cookie sent).
    var setCookie: String?
    /// `Retry-After` seconds of edgesplit's own 429.
    var retryAfter: Int?
    /// The client speaks HTTP/1.0 and the response is chunked: send payload bytes only.
    var dechunk = false
    var countedOutstanding = false
    var logged = false
    var maxBody: UInt64?
    /// Request body payload bytes (without chunked framing), checked against `maxBody`.
    var payloadBytes: UInt64 = 0
    var status = 0
    var bytesIn = 0
    var bytesOut = 0

    init(head: RequestHead?, start: NIODeadline) {
        self.head = head
        self.start = start
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        self.startWall = now
    }

    /// What the planner chose for a forwarded request.
    func apply(_ plan: ForwardPlan) {
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
    func closeMemberConnection() {
        guard let memberConnection else { return }
        self.memberConnection = nil
        memberConnection.close()
    }
}
