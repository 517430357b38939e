import EdgeTLS
import Foundation
import HTTP1
import NIOCore
import NIOPosix
import NIOTLS
import NIOSSL
import Publishing
import X509

/// The network half of `edgesplit test-rule --probe`, TMG's Test Rule button
/// (lync-publishing.md §4.4): resolve the member, connect, TLS handshake verified like the data
/// plane does it (same `MemberTLSContext`), then an anonymous GET with the Host the member
/// would receive, reporting the status and the authentication schemes it offers.
package struct MemberProbe {
    package var member: FarmMember
    /// Nil for a plain-HTTP farm.
    package var tls: MemberTLSContext?
    /// Where the farm's trust comes from, for messages.
    package var trustDescription: String
    package var hostHeader: String
    package var target: String
    package var timeout: TimeAmount

    package init(
        member: FarmMember, tls: MemberTLSContext?, trustDescription: String, hostHeader: String, target: String,
        timeout: TimeAmount = .seconds(10)
    ) {
        self.member = member
        self.tls = tls
        self.trustDescription = trustDescription
        self.hostHeader = hostHeader
        self.target = target
        self.timeout = timeout
    }

    /// The steps `dns`, `tcp`, `tls`, `http`; after a failure the rest are skipped.
    package func run(group: EventLoopGroup) -> [TestRuleStep] {
        var steps: [TestRuleStep] = []
        func skipRest(after index: Int) {
            let names = ["dns", "tcp", "tls", "http"]
            for name in names.dropFirst(index + 1) {
                steps.append(TestRuleStep(name, .skip, "not run: an earlier step failed"))
            }
        }

        // DNS
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(member.host, port: member.port)
            let ip = address.ipAddress ?? "\(address)"
            steps.append(
                TestRuleStep("dns", .pass, member.isLiteralAddress ? "\(member.host) is an address literal" : "\(member.host) resolves to \(ip)"))
        } catch {
            steps.append(TestRuleStep("dns", .fail, "\(member.host) does not resolve: \(error)"))
            skipRest(after: 0)
            return steps
        }

        // TCP
        let channel: Channel
        let started = NIODeadline.now()
        do {
            channel = try ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .connect(to: address).wait()
            let ms = (NIODeadline.now() - started).nanoseconds / 1_000_000
            steps.append(TestRuleStep("tcp", .pass, "connected to \(address.ipAddress ?? "?"):\(member.port) in \(ms) ms"))
        } catch {
            steps.append(TestRuleStep("tcp", .fail, "cannot connect to \(address.ipAddress ?? "?"):\(member.port): \(Self.describe(error))"))
            skipRest(after: 1)
            return steps
        }
        defer { _ = try? channel.close().wait() }

        // TLS
        if let tls {
            let serverName = tls.serverName(for: member)
            let handshake = channel.eventLoop.makePromise(of: Void.self)
            // Built here, then touched only on the channel's loop: the box checks that.
            let waiter = NIOLoopBoundBox.makeBoxSendingValue(HandshakeWaiter(promise: handshake), eventLoop: channel.eventLoop)
            do {
                try channel.eventLoop.submit {
                    let ssl = try NIOSSLClientHandler(context: tls.context, serverHostname: serverName)
                    try channel.pipeline.syncOperations.addHandler(ssl)
                    try channel.pipeline.syncOperations.addHandler(waiter.value)
                }.wait()
                let timer = channel.eventLoop.scheduleTask(in: timeout) { [timeout] in waiter.value.fail(ProbeError("no handshake within \(timeout.nanoseconds / 1_000_000_000) s")) }
                try handshake.futureResult.wait()
                timer.cancel()
                let version = (try? channel.nioSSL_tlsVersion().wait()) ?? nil
                var details: [String] = []
                if let certificate = (try? channel.nioSSL_peerCertificate().wait()) ?? nil,
                    let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der)
                {
                    details.append("member certificate: \(parsed.subject), valid until \(parsed.notValidAfter)")
                    if let sans = try? parsed.extensions.subjectAlternativeNames {
                        details.append("SANs: " + sans.map(Self.describe(name:)).joined(separator: ", "))
                    }
                }
                let verified = tls.verifies
                    ? "certificate verified for \(serverName ?? member.host) against \(trustDescription)"
                    : "certificate NOT verified (verify: false)"
                steps.append(TestRuleStep("tls", .pass, "handshake \(version.map(Self.describe(version:)) ?? "done"); \(verified)", details: details))
            } catch {
                steps.append(
                    TestRuleStep(
                        "tls", .fail,
                        "handshake with \(member.text) failed (server name \(serverName ?? member.host), trust: \(trustDescription)): \(Self.describe(error))"))
                skipRest(after: 2)
                return steps
            }
        } else {
            steps.append(TestRuleStep("tls", .skip, "plain HTTP farm: no TLS to the member"))
        }

        // HTTP
        let response = channel.eventLoop.makePromise(of: ResponseHead.self)
        let collector = NIOLoopBoundBox.makeBoxSendingValue(MemberResponseReader(promise: response), eventLoop: channel.eventLoop)
        do {
            try channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(collector.value)
            }.wait()
            let request = MemberResponseReader.anonymousGET(target: target, host: hostHeader, userAgent: "edgesplit-test-rule")
            var buffer = channel.allocator.buffer(capacity: request.utf8.count)
            buffer.writeString(request)
            let timer = channel.eventLoop.scheduleTask(in: timeout) { [timeout] in collector.value.fail(ProbeError("no response head within \(timeout.nanoseconds / 1_000_000_000) s")) }
            try channel.writeAndFlush(buffer).wait()
            let head = try response.futureResult.wait()
            timer.cancel()
            var details = ["GET \(target) with Host: \(hostHeader), anonymous"]
            if let server = head.textValues("server").first { details.append("Server: \(server)") }
            if let location = head.textValues("location").first { details.append("Location: \(location)") }
            let schemes = head.textValues("www-authenticate").map { String($0.prefix { $0 != " " }) }
            let status = "\(head.status) \(head.reasonText)"
            if head.status == 401 {
                let offered = schemes.isEmpty ? "no WWW-Authenticate" : "offers " + schemes.joined(separator: ", ")
                steps.append(TestRuleStep("http", .pass, "\(status): \(offered) (clients authenticate directly)", details: details))
            } else if head.status < 400 {
                let offered = schemes.isEmpty ? "" : "; offers " + schemes.joined(separator: ", ")
                steps.append(TestRuleStep("http", .pass, status + offered, details: details))
            } else {
                steps.append(TestRuleStep("http", .fail, "\(status) from the member", details: details))
            }
        } catch {
            steps.append(TestRuleStep("http", .fail, "no HTTP response: \(Self.describe(error))"))
        }
        return steps
    }

    static func describe(version: TLSVersion) -> String {
        switch version {
        case .tlsv1: return "TLS 1.0"
        case .tlsv11: return "TLS 1.1"
        case .tlsv12: return "TLS 1.2"
        case .tlsv13: return "TLS 1.3"
        }
    }

    static func describe(name: GeneralName) -> String {
        switch name {
        case .dnsName(let dns): return "DNS:\(dns)"
        case .ipAddress(let bytes):
            let b = Array(bytes.bytes)
            if b.count == 4 { return "IP:" + b.map(String.init).joined(separator: ".") }
            return "IP:" + stride(from: 0, to: b.count, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }.joined(separator: ":")
        default: return "\(name)"
        }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? IOError { return e.description }
        if let e = error as? ProbeError { return e.message }
        if let e = error as? MemberResponseReader.Failure { return e.description }
        if let e = error as? ChannelError, case .connectTimeout(let t) = e { return "connect timed out after \(t.nanoseconds / 1_000_000) ms" }
        return "\(error)"
    }
}

struct ProbeError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Completes when the TLS handshake does, fails on an error or a close before it.
private final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<Void>
    var done = false
    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, !done {
            done = true
            promise.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ProbeError("the member closed the connection during the handshake"))
        context.fireChannelInactive()
    }

    func fail(_ error: Error) {
        guard !done else { return }
        done = true
        promise.fail(error)
    }
}
