import AdminServer
import Affinity
import struct Foundation.Date
import HTTP1
import MemberConnections
import Members
import NIOCore
import Publishing

/// What the exchange planner decided for one request head.
package enum ExchangePlan {
    /// edgesplit answers itself: no rule (404), a deny rule or a source outside the rule's
    /// networks (403), the source's request limit (429), `max_body` against a declared
    /// length (413), no member available (503).
    case answer(status: Int, rule: Int?, retryAfter: Int?)
    case forward(ForwardPlan)
}

/// A request to forward: its rule, farm and member, and what the member side must know.
package struct ForwardPlan {
    package let rule: Int
    package let farm: Int
    package let member: Int
    package let maxBody: UInt64?
    package let setCookie: String?
    /// The request carries NTLM or Negotiate credentials: they authenticate a connection.
    package let boundByRequest: Bool
    package let isUpgrade: Bool
}

/// The exchange path shared by HTTP/1.1 connections and HTTP/2 streams: the planner (rule,
/// limits, `max_body`, member), the member connection (pool, connect, release), the forwarded
/// head's edits and the accounting. Each client side only adds how its protocol reads a
/// request and writes a response.
extension Worker {
    // MARK: Planning

    /// Decides what happens to a request: rule decision, per-source request limit, `max_body`
    /// against a declared Content-Length, and the member. A member connection that
    /// NTLM/Negotiate bound to this client (`bound`, HTTP/1.1 only) decides the member for its
    /// farm, since the handshake and the session live on that one connection.
    package func plan(
        _ head: RequestHead, listener: Int, client: ClientAddress?, ticket: SourceTicket?,
        bound: [MemberPool.Key: MemberHandler] = [:]
    ) -> ExchangePlan {
        let source = client ?? ClientAddress.unspecified
        // Rules see the path the member will (decoded, dot segments removed); the target is
        // forwarded as received. A path the rules would read two ways is refused (nil).
        let decided = head.withHostAndPath { host, path in
            try? runtime.rules.decide(listener: listener, host: host, requestPath: path, client: source).get()
        }
        if let ticket, let retryAfter = ticket.refusesRequest(rule: decided?.ruleIndex) {
            // Over the source's request limit: 429, and the connection stays usable.
            return .answer(status: 429, rule: decided?.ruleIndex, retryAfter: retryAfter)
        }
        guard let decision = decided else { return .answer(status: 400, rule: nil, retryAfter: nil) }
        switch decision {
        case .noMatch:
            return .answer(status: 404, rule: nil, retryAfter: nil)
        case .deny(let rule), .sourceNotAllowed(let rule):
            return .answer(status: 403, rule: rule, retryAfter: nil)
        case .forward(let rule, let farm):
            let maxBody = runtime.config.rules[rule].maxBody
            if let limit = maxBody, case .contentLength(let length) = head.framing, length > limit {
                return .answer(status: 413, rule: rule, retryAfter: nil)
            }
            guard let client else { return .answer(status: 503, rule: rule, retryAfter: nil) }
            var setCookie: String?
            let boundMember = bound.isEmpty ? nil : bound.first { $0.key.farm == farm && $0.value.isUsable }?.key.member
            guard let member = boundMember ?? pickMember(farm: farm, client: client, head: head, setCookie: &setCookie) else {
                return .answer(status: 503, rule: rule, retryAfter: nil)
            }
            return .forward(
                ForwardPlan(
                    rule: rule, farm: farm, member: member, maxBody: maxBody, setCookie: setCookie,
                    boundByRequest: head.containsValue("authorization", where: MemberHandler.isConnectionBoundScheme),
                    isUpgrade: head.isWebSocketUpgrade
                ))
        }
    }

    /// The member for a request: with cookie persistence a valid cookie naming an available
    /// member wins; otherwise the farm's balancer decides (source hash or least outstanding),
    /// and a cookie farm answers with `Set-Cookie` naming the member — on every response
    /// whose request lacked a valid cookie, as Microsoft's MS-WSMAN guidance requires.
    private func pickMember(farm: Int, client: ClientAddress, head: RequestHead, setCookie: inout String?) -> Int? {
        let balancer = balancers[farm]
        guard let cookie = cookies[farm] else { return balancer.pick(for: client, now: Worker.now) }
        if let member = cookie.member(inCookieHeaders: head.values("cookie")), balancer.isAvailable(member, now: Worker.now) {
            return member
        }
        guard let member = balancer.pick(for: client, now: Worker.now) else { return nil }
        setCookie = cookie.setCookie(member: member)
        return member
    }

    /// A connection to the exchange's member failed before anything was sent: marks the
    /// member failed and names one other member to try, with its cookie when the farm sets
    /// one. Nil when there is none; the caller's state machine decides whether to use it.
    package func otherMember(for exchange: Exchange, client: ClientAddress?, after error: Error) -> (member: Int, setCookie: String?)? {
        let balancer = balancers[exchange.farmIndex]
        memberFailed(farm: exchange.farmIndex, member: exchange.member, reason: HealthProbeError.describe(error))
        guard let client, let next = balancer.pick(for: client, excluding: exchange.member, now: Worker.now) else { return nil }
        let cookie = exchange.setCookie == nil ? nil : cookies[exchange.farmIndex]?.setCookie(member: next)
        return (next, cookie)
    }

    // MARK: Member connections

    /// Opens a fresh connection to the exchange's member. The owner hears back exactly once,
    /// through `memberConnected` or `memberConnectFailed`, and checks that the exchange is
    /// still the one it waits for (otherwise it closes the connection).
    package func connect(_ exchange: Exchange, for owner: ExchangeOwner) {
        let farm = exchange.farmIndex, member = exchange.member
        connect(farm: farm, member: member, timeout: runtime.ruleTimeouts[exchange.ruleIndex!].connect)
            .assumeIsolated().whenComplete { [self] result in
                switch result {
                case .success(let memberConnection):
                    balancers[farm].markSucceeded(member)
                    owner.memberConnected(memberConnection, for: exchange)
                case .failure(let error):
                    owner.memberConnectFailed(error, for: exchange)
                }
            }
    }

    /// Binds `memberConnection` to the exchange and counts it outstanding at its member.
    package func start(_ exchange: Exchange, on memberConnection: MemberHandler, owner: MemberOwner) {
        exchange.memberConnection = memberConnection
        memberConnection.owner = owner
        balancers[exchange.farmIndex].requestStarted(exchange.member)
        exchange.countedOutstanding = true
    }

    /// Ends the exchange's outstanding count at its member, once.
    package func finishOutstanding(_ exchange: Exchange) {
        guard exchange.countedOutstanding else { return }
        balancers[exchange.farmIndex].requestFinished(exchange.member)
        exchange.countedOutstanding = false
    }

    /// A member connection whose response is complete goes back to the pool when `keep`,
    /// else it is closed.
    package func release(_ memberConnection: MemberHandler, keep: Bool) {
        if keep {
            pool.put(memberConnection)
        } else {
            memberConnection.close()
        }
    }

    /// The member connection failed before the response was complete: it is closed, the
    /// attempt stops counting as outstanding, and a fresh connection's failure counts
    /// against the member (a kept-alive one's says nothing: the member answered on it before).
    package func memberConnectionFailed(_ exchange: Exchange, _ memberConnection: MemberHandler, reused: Bool, error: Error) {
        if exchange.memberConnection === memberConnection { exchange.memberConnection = nil }
        memberConnection.close()
        finishOutstanding(exchange)
        if !reused {
            memberFailed(farm: exchange.farmIndex, member: exchange.member, reason: HealthProbeError.describe(error))
        }
    }

    /// 504 for a connect timeout, 502 for any other failure to reach a member.
    package static func isTimeout(_ error: Error) -> Bool {
        if case .connectTimeout = error as? ChannelError { return true }
        return false
    }

    // MARK: Forwarding

    /// The forwarded request head, edited per the rule: Host (`forward_original_host`),
    /// X-Forwarded-For and X-Forwarded-Proto, hop-by-hop fields removed.
    package func forwardedHead(for exchange: Exchange, clientText: [UInt8], isTLS: Bool, into scratch: inout [UInt8]) {
        scratch.removeAll(keepingCapacity: true)
        exchange.head?.writeForwarded(into: &scratch, edits: forwardingEdits(for: exchange, clientText: clientText, isTLS: isTLS))
    }

    private func forwardingEdits(for exchange: Exchange, clientText: [UInt8], isTLS: Bool) -> ForwardingEdits {
        let rule = runtime.config.rules[exchange.ruleIndex!]
        let farm = runtime.config.farms[exchange.farmIndex]
        let member = farm.members[exchange.member]
        var replaceHost: [UInt8]? = nil
        if !rule.forwardOriginalHost {
            let defaultPort = farm.tls == nil ? 80 : 443
            let hostText = member.host.contains(":") ? "[\(member.host)]" : member.host
            replaceHost = Array((member.port == defaultPort ? hostText : "\(hostText):\(member.port)").utf8)
        }
        return ForwardingEdits(
            replaceHost: replaceHost,
            forwardedFor: clientText,
            forwardedProto: isTLS ? ForwardingEdits.protoHTTPS : ForwardingEdits.protoHTTP,
            keepUpgrade: exchange.isUpgrade
        )
    }

    // MARK: Accounting

    /// The exchange is over: its outstanding count ends, and it is counted in the stats and
    /// written to the access log, once. An exchange with no status yet was cut short by the
    /// client (499).
    package func finish(_ exchange: Exchange, listener: Int, client: String) {
        finishOutstanding(exchange)
        if exchange.status == 0 { exchange.status = 499 }
        record(exchange, listener: listener, client: client)
    }

    /// Counts the exchange in the stats and writes its access-log line, once.
    package func record(_ exchange: Exchange, listener: Int, client: String) {
        guard !exchange.logged else { return }
        exchange.logged = true
        let now = NIODeadline.now()
        let elapsed = now - exchange.start
        stats.recordExchange(
            listener: listener,
            rule: exchange.ruleIndex,
            status: exchange.status,
            bytesIn: exchange.bytesIn,
            bytesOut: exchange.bytesOut,
            microseconds: UInt64(max(0, elapsed.nanoseconds / 1000)),
            at: now
        )
        if (500..<600).contains(exchange.status) {
            let config = runtime.config
            var member = ""
            if exchange.farmIndex >= 0, exchange.member >= 0 { member = config.farms[exchange.farmIndex].members[exchange.member].text }
            stats.recordServerError(ServerErrorAnswer(
                time: Date(), rule: exchange.ruleIndex.map { config.rules[$0].name } ?? "", member: member,
                status: exchange.status, worker: index
            ))
        }
        guard let log = accessLog else { return }
        let head = exchange.head
        var record = AccessRecord(
            start: exchange.startWall,
            clientIP: client,
            method: head.map { String(decoding: $0.method, as: UTF8.self) } ?? "-",
            uriStem: head.map { String(decoding: $0.path, as: UTF8.self) } ?? "-",
            uriQuery: head?.query.map { String(decoding: $0, as: UTF8.self) } ?? "",
            host: head?.host.map { String(decoding: $0, as: UTF8.self) } ?? "",
            status: exchange.status,
            bytesIn: exchange.bytesIn,
            bytesOut: exchange.bytesOut,
            timeTakenMs: Int(elapsed.nanoseconds / 1_000_000),
            rule: "",
            farm: "",
            member: "",
            worker: index
        )
        if let rule = exchange.ruleIndex { record.rule = runtime.config.rules[rule].name }
        if exchange.farmIndex >= 0 {
            let farm = runtime.config.farms[exchange.farmIndex]
            record.farm = farm.name
            if exchange.member >= 0 { record.member = farm.members[exchange.member].text }
        }
        log.append(record)
    }
}

extension ClientAddress {
    /// 0.0.0.0: the source of a connection whose peer address is unknown (matched by rules
    /// and limits as such; never given a member).
    package static let unspecified = ClientAddress(bytes: [0, 0, 0, 0])!

    package init?(socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let address):
            var raw = address.address.sin_addr
            self.init(bytes: withUnsafeBytes(of: &raw) { Array($0) })
        case .v6(let address):
            var raw = address.address.sin6_addr
            self.init(bytes: withUnsafeBytes(of: &raw) { Array($0) })
        default:
            return nil
        }
    }
}
