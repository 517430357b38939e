import Affinity
import HTTP1
import NIOCore
import Publishing

/// The parts of an exchange that do not depend on how the client speaks (HTTP/1.1 on a
/// connection, or one HTTP/2 stream): the member choice, the forwarded head's edits and the
/// accounting, so both paths apply the same rules.
extension Worker {
    /// The member for a request: with cookie persistence a valid cookie naming an available
    /// member wins; otherwise the farm's balancer decides (source hash or least outstanding),
    /// and a cookie farm answers with `Set-Cookie` naming the member — on every response
    /// whose request lacked a valid cookie, as Microsoft's MS-WSMAN guidance requires.
    func pickMember(farm: Int, client: ClientAddress, head: RequestHead, exchange: Exchange) -> Int? {
        let balancer = balancers[farm]
        guard let cookie = cookies[farm] else { return balancer.pick(for: client, now: .now()) }
        if let member = cookie.member(inCookieHeaders: head.values("cookie")), balancer.isAvailable(member, now: .now()) {
            return member
        }
        guard let member = balancer.pick(for: client, now: .now()) else { return nil }
        exchange.setCookie = cookie.setCookie(member: member)
        return member
    }

    /// A connection to the exchange's member failed before anything was sent: marks the
    /// member failed and moves the exchange to one other member, once. False when there is
    /// none to try; the caller answers 502 or 504 (`failureStatus`).
    func moveToOtherMember(_ exchange: Exchange, client: ClientAddress?, after error: Error) -> Bool {
        let balancer = balancers[exchange.farmIndex]
        memberFailed(farm: exchange.farmIndex, member: exchange.member, reason: HealthProbeError.describe(error))
        guard exchange.attempts < 2, let client,
            let next = balancer.pick(for: client, excluding: exchange.member, now: .now())
        else { return false }
        exchange.attempts += 1
        exchange.member = next
        if exchange.setCookie != nil, let cookie = cookies[exchange.farmIndex] {
            exchange.setCookie = cookie.setCookie(member: next)
        }
        return true
    }

    /// Opens a fresh member connection for the exchange. `attach` gets it if `isCurrent` still
    /// holds when it is ready (otherwise it is closed); `failed` gets a connect error.
    func connect(
        _ exchange: Exchange,
        isCurrent: @escaping () -> Bool,
        attach: @escaping (BackendHandler) -> Void,
        failed: @escaping (Error) -> Void
    ) {
        let rule = runtime.config.rules[exchange.ruleIndex!]
        exchange.reusedConnection = false
        connect(farm: exchange.farmIndex, member: exchange.member, timeout: rule.timeouts.connect.timeAmount)
            .whenComplete { [self] result in
                switch result {
                case .success(let backend):
                    guard isCurrent() else {
                        backend.close()
                        return
                    }
                    balancers[exchange.farmIndex].markSucceeded(exchange.member)
                    attach(backend)
                case .failure(let error):
                    if isCurrent() { failed(error) }
                }
            }
    }

    /// A member connection failed before any response byte. True when the request may go
    /// again on a fresh connection: a kept-alive connection the member closed just as it was
    /// reused, with no body sent, was processed by nobody. Otherwise a fresh connection's
    /// failure counts against the member; a kept-alive one's says nothing (it answered on it
    /// before).
    func mayResend(_ exchange: Exchange, after error: Error) -> Bool {
        if exchange.reusedConnection, exchange.bodyBytes == 0, exchange.head?.framing == BodyFraming.none {
            finishOutstanding(exchange)
            return true
        }
        if !exchange.reusedConnection {
            memberFailed(farm: exchange.farmIndex, member: exchange.member, reason: HealthProbeError.describe(error))
        }
        return false
    }

    /// 504 for a connect timeout, 502 for any other failure to reach a member.
    static func failureStatus(_ error: Error) -> Int {
        (error as? ChannelError).map { if case .connectTimeout = $0 { return 504 } else { return 502 } } ?? 502
    }

    /// Binds `backend` to the exchange and counts it outstanding at its member.
    func start(_ exchange: Exchange, on backend: BackendHandler, owner: BackendOwner) {
        exchange.backend = backend
        backend.owner = owner
        balancers[exchange.farmIndex].requestStarted(exchange.member)
        exchange.countedOutstanding = true
    }

    /// Ends the exchange's outstanding count at its member, once.
    func finishOutstanding(_ exchange: Exchange) {
        guard exchange.countedOutstanding else { return }
        balancers[exchange.farmIndex].requestFinished(exchange.member)
        exchange.countedOutstanding = false
    }

    /// How the request head changes on its way to the member: Host per the rule
    /// (`forward_original_host`), X-Forwarded-For and X-Forwarded-Proto.
    func forwardingEdits(for exchange: Exchange, clientText: [UInt8], isTLS: Bool) -> ForwardingEdits {
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

    /// Counts the exchange in the stats and writes its access-log line, once.
    func record(_ exchange: Exchange, listener: Int, client: String) {
        guard !exchange.logged else { return }
        exchange.logged = true
        let elapsed = NIODeadline.now() - exchange.start
        stats.recordExchange(
            listener: listener,
            rule: exchange.ruleIndex,
            status: exchange.status,
            bytesIn: exchange.bytesIn,
            bytesOut: exchange.bytesOut,
            microseconds: UInt64(max(0, elapsed.nanoseconds / 1000))
        )
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
