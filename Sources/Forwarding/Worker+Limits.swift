import Affinity
import NIOCore
import Publishing

/// One event loop's per-source counts. The process keeps one per loop for its whole life
/// and hands it to every generation's worker on that loop, so a reload keeps the counts: the
/// old generation's connections still count, and the new limits apply to them.
package final class SourceCounts {
    /// Touched only on the loop; nil when the configuration sets no limit.
    package var table: SourceLimitTable?

    package init() {}
}

/// Per-source limits on a worker: the thin shell around `SourceLimitTable`.
///
/// The kernel steering sends all connections of a source to this worker, so its table sees
/// the whole source and is touched only on this worker's loop. A connection is admitted or
/// refused as it is accepted, before TLS or anything else is set up on it, so the check
/// covers every kind of listener; its close is reported by the channel's close future,
/// whatever handlers it ended up with.
extension Worker {
    package static var now: SourceLimitTable.Instant { NIODeadline.now().uptimeNanoseconds }

    /// Admits a just-accepted connection or refuses it (the caller then closes it at once).
    /// Returns the connection's place in its source's counts, nil when it is not counted.
    package func admitConnection(_ channel: Channel, handshake: Bool) -> Result<SourceTicket?, RefusedBySourceLimit> {
        guard sourceCounts.table != nil, let remote = channel.remoteAddress, let client = ClientAddress(socketAddress: remote) else {
            return .success(nil)
        }
        switch sourceCounts.table!.admitConnection(from: client, handshake: handshake, now: Self.now) {
        case .exempt, .untracked:
            return .success(nil)
        case .refused(let reason):
            stats.limited[reason, default: 0] &+= 1
            return .failure(RefusedBySourceLimit(reason: reason))
        case .admitted(let source):
            let ticket = SourceTicket(worker: self, source: source, handshakeOpen: handshake)
            channel.closeFuture.assumeIsolated().whenComplete { _ in ticket.closed() }
            return .success(ticket)
        }
    }

    /// Sets the loop's table up for this generation's configuration (kept across a reload),
    /// on the loop and before this worker accepts anything; and expires idle sources once a
    /// minute, so the table shrinks when traffic does.
    package func startLimits() {
        configureLimits()
        limitExpiryTask = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(60), delay: .seconds(60)) { [self] _ in
            sourceCounts.table?.expire(now: Self.now)
        }
    }

    /// Applies this generation's limits to the loop's table: at start, and again when a newer
    /// generation that had already applied its own failed to start.
    package func configureLimits() {
        eventLoop.execute { [self] in
            limitRuleIDs = SourceLimitTable.configure(&sourceCounts.table, for: runtime.config)
        }
    }
}

/// One admitted connection's place in its source's counts: the open handshake and the
/// connection are given back exactly once.
package final class SourceTicket {
    package let worker: Worker
    package let source: ClientAddress
    private var handshakeOpen: Bool
    private var open = true

    package init(worker: Worker, source: ClientAddress, handshakeOpen: Bool) {
        self.worker = worker
        self.source = source
        self.handshakeOpen = handshakeOpen
    }

    /// The TLS handshake finished: it no longer counts as half-open.
    package func handshakeEnded() {
        guard handshakeOpen else { return }
        handshakeOpen = false
        worker.sourceCounts.table?.handshakeEnded(source: source)
    }

    package func closed() {
        guard open else { return }
        open = false
        worker.sourceCounts.table?.connectionClosed(source: source, handshakeOpen: handshakeOpen)
        handshakeOpen = false
    }

    /// A new HTTP/2 stream on this connection: false when the source has `concurrent_streams`
    /// open over all its connections (the stream is refused, and counted).
    package func admitStream() -> Bool {
        guard worker.sourceCounts.table?.admitStream(source: source) ?? true else {
            worker.stats.limited[.concurrentStreams, default: 0] &+= 1
            return false
        }
        return true
    }

    /// An admitted stream ended.
    package func streamClosed() {
        worker.sourceCounts.table?.streamClosed(source: source)
    }

    /// A request matched by the rule at index `rule` (nil: none): nil when allowed, else the
    /// seconds until the source may send again (`Retry-After` of the 429).
    package func refusesRequest(rule: Int?) -> Int? {
        let id = rule.flatMap { $0 < worker.limitRuleIDs.count ? worker.limitRuleIDs[$0] : nil }
        guard case .refused(let retryAfter) = worker.sourceCounts.table?.admitRequest(source: source, rule: id, now: Worker.now) else {
            return nil
        }
        worker.stats.limited[.requestsPerMinute, default: 0] &+= 1
        return retryAfter
    }
}

/// A connection closed at accept because its source is over a limit.
package struct RefusedBySourceLimit: Error {
    package let reason: LimitReason
}

/// Closes a refused connection as soon as it is registered: nothing is read from it, no
/// TLS is set up for it.
package final class RefusedConnectionHandler: ChannelInboundHandler {
    package typealias InboundIn = ByteBuffer

    package init() {}

    package func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
