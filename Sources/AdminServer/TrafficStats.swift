import Admin
import Foundation
import Histogram
import NIOCore
import Publishing

/// Requests, status classes, bytes and latency of one listener or rule.
package struct TrafficCounters: Sendable {
    package var requests: UInt64 = 0
    /// Responses by class: index 0 = 1xx … 4 = 5xx.
    package var statusClasses: [UInt64] = [0, 0, 0, 0, 0]
    package var bytesIn: UInt64 = 0
    package var bytesOut: UInt64 = 0
    /// Time from the first byte of the request head to the end of the exchange, in µs.
    package var latency = TrafficCounters.histogram()
    /// The same, of the exchanges that ended in the last 10 to 20 seconds: percentiles that
    /// follow the traffic (the dashboard charts them), where `latency`'s settle with time.
    package var recentLatency = RecentLatency()

    package init() {}

    package static func histogram() -> Histogram<UInt32> {
        Histogram<UInt32>(highestTrackableValue: 7_200_000_000, numberOfSignificantValueDigits: .two)
    }

    mutating func record(status: Int, bytesIn: Int, bytesOut: Int, microseconds: UInt64, at now: NIODeadline) {
        requests &+= 1
        let index = status / 100 - 1
        if (0..<5).contains(index) { statusClasses[index] &+= 1 }
        self.bytesIn &+= UInt64(bytesIn)
        self.bytesOut &+= UInt64(bytesOut)
        _ = latency.record(min(microseconds, 7_200_000_000))
        recentLatency.record(min(microseconds, 7_200_000_000), at: now)
    }

    package mutating func add(_ other: TrafficCounters) {
        requests &+= other.requests
        for i in 0..<5 { statusClasses[i] &+= other.statusClasses[i] }
        bytesIn &+= other.bytesIn
        bytesOut &+= other.bytesOut
        latency.add(other.latency)
        recentLatency.add(other.recentLatency)
    }

    /// Latency percentile in milliseconds (0 without requests).
    package func latencyMilliseconds(percentile: Double) -> Double {
        latency.totalCount == 0 ? 0 : Double(latency.valueAtPercentile(percentile)) / 1000
    }
}

/// Latency of the exchanges that ended in the current 10-second slot and the one before,
/// kept without a timer: a slot is left behind when an exchange or a reader arrives in a
/// later one.
package struct RecentLatency: Sendable {
    package static let slotNanoseconds: UInt64 = 10_000_000_000
    private(set) var slot: UInt64 = 0
    private var current = RecentLatency.empty
    private var previous = RecentLatency.empty

    package init() {}

    package static func slot(of time: NIODeadline) -> UInt64 { time.uptimeNanoseconds / slotNanoseconds }

    mutating func record(_ microseconds: UInt64, at now: NIODeadline) {
        advance(to: Self.slot(of: now))
        _ = current.record(microseconds)
    }

    /// An empty histogram to start a slot from. Assigning it shares its storage; the slot's
    /// first record copies it (one memcpy). `Histogram.reset()` instead zeroes the counts one
    /// by one through the unspecialised generic code of another module: about 400,000
    /// instructions per reset, which `Scripts/bench guard` saw as 3,800 per request.
    private static let empty = TrafficCounters.histogram()

    /// Forgets what ended before the slot preceding `slot`.
    package mutating func advance(to slot: UInt64) {
        guard slot > self.slot else { return }
        previous = slot == self.slot + 1 ? current : Self.empty
        current = Self.empty
        self.slot = slot
    }

    /// Adds another worker's figures, both moved to the later of their slots first.
    package mutating func add(_ other: RecentLatency) {
        var other = other
        let slot = max(self.slot, other.slot)
        advance(to: slot)
        other.advance(to: slot)
        current.add(other.current)
        previous.add(other.previous)
    }

    package var count: UInt64 { current.totalCount + previous.totalCount }

    /// Percentile in milliseconds over both slots (0 without requests).
    package func milliseconds(percentile: Double) -> Double {
        guard count > 0 else { return 0 }
        var both = previous
        both.add(current)
        return Double(both.valueAtPercentile(percentile)) / 1000
    }
}

/// One worker's counters. They live on the worker's event loop and are updated there
/// without locks; `ProxyServer.stats()` collects a copy from every worker on demand.
package struct WorkerStats: Sendable {
    package var index: Int
    package var accepted: UInt64 = 0
    package var active: Int = 0
    package var tlsHandshakes: UInt64 = 0
    /// Of `tlsHandshakes`, those that resumed a session (a ticket).
    package var tlsResumed: UInt64 = 0
    package var tlsHandshakeFailures: UInt64 = 0
    package var requests: UInt64 = 0
    package var http2 = HTTP2Counters()
    /// By listener index.
    package var listeners: [TrafficCounters]
    /// By rule index, then one more for requests no rule matched (and malformed ones).
    package var rules: [TrafficCounters]
    /// Connections closed at accept and requests answered 429, by the limit they were over.
    package var limited: [LimitReason: UInt64] = [:]
    /// Sources the limit table keeps counts for now.
    package var limitSources = 0
    /// Sources forgotten before their windows ended because the table was full.
    package var limitSourcesEvicted: UInt64 = 0
    /// Connections admitted without counting because the table was full of open sources.
    package var limitUntracked: UInt64 = 0
    /// TLS connections closed because their ClientHello was malformed (or over 16 KiB).
    package var clientHelloMalformed: UInt64 = 0
    /// TLS connections closed because the ClientHello took longer than 5 s.
    package var clientHelloTimeouts: UInt64 = 0
    /// By L4 route index (`EdgesplitConfig.l4Routes`).
    package var l4Routes: [L4RouteCounters]
    /// This worker's last `ServerErrorAnswer.kept` 5xx answers, oldest first.
    package var recentServerErrors: [ServerErrorAnswer] = []

    package init(index: Int, listeners: Int, rules: Int, l4Routes: Int = 0) {
        self.index = index
        self.listeners = Array(repeating: TrafficCounters(), count: listeners)
        self.rules = Array(repeating: TrafficCounters(), count: rules + 1)
        self.l4Routes = Array(repeating: L4RouteCounters(), count: l4Routes)
    }

    package mutating func recordExchange(
        listener: Int, rule: Int?, status: Int, bytesIn: Int, bytesOut: Int, microseconds: UInt64, at now: NIODeadline
    ) {
        requests &+= 1
        listeners[listener].record(status: status, bytesIn: bytesIn, bytesOut: bytesOut, microseconds: microseconds, at: now)
        rules[rule ?? rules.count - 1].record(status: status, bytesIn: bytesIn, bytesOut: bytesOut, microseconds: microseconds, at: now)
    }

    package mutating func recordServerError(_ answer: ServerErrorAnswer) {
        if recentServerErrors.count >= ServerErrorAnswer.kept { recentServerErrors.removeFirst() }
        recentServerErrors.append(answer)
    }
}

/// One 5xx answer to a client: when, under which rule, from (or for) which member.
package struct ServerErrorAnswer: Sendable, Equatable {
    /// Kept per worker, and in `stats` over all workers: enough for "what failed just now".
    package static let kept = 20

    package var time: Date
    /// "" when no rule matched.
    package var rule: String
    /// "" when no member was chosen (none available, or edgesplit answered itself).
    package var member: String
    package var status: Int
    package var worker: Int

    package init(time: Date, rule: String, member: String, status: Int, worker: Int) {
        self.time = time
        self.rule = rule
        self.member = member
        self.status = status
        self.worker = worker
    }
}

/// What HTTP/2 clients did on one worker, and what the HTTP/2 limits refused: counted in the
/// shape `stats` reports them (`ProcessStats.HTTP2`), so the reply copies the value whole.
package typealias HTTP2Counters = ProcessStats.HTTP2

/// Connections of one L4 route on one worker. Bytes spliced in the kernel are counted by
/// the BPF program (`SpliceCounters`), not here.
package struct L4RouteCounters: Sendable {
    /// Connections the route took (its SNI matched).
    package var connections: UInt64 = 0
    package var active: Int = 0
    /// Connections whose sockets were spliced in the kernel.
    package var spliced: UInt64 = 0
    /// Connections copied in userspace because the splice was unavailable.
    package var fallbacks: UInt64 = 0
    /// Bytes userspace copied: all of a fallback connection's, and the few a spliced
    /// connection had received before its sockets entered the map.
    package var bytesCopied: UInt64 = 0
    /// Member connections that failed.
    package var memberFailures: UInt64 = 0
    /// Connections closed because no member was available.
    package var noMember: UInt64 = 0
    /// Connections closed after the route's `idle` without payload either way.
    package var idleClosed: UInt64 = 0

    package init() {}

    package mutating func add(_ other: L4RouteCounters) {
        connections &+= other.connections
        active += other.active
        spliced &+= other.spliced
        fallbacks &+= other.fallbacks
        bytesCopied &+= other.bytesCopied
        memberFailures &+= other.memberFailures
        noMember &+= other.noMember
        idleClosed &+= other.idleClosed
    }
}
