import CEdgesplitBPF

/// The program's counters summed over CPUs (the `counters` map).
public struct SteeringCounters: Sendable, Equatable {
    /// Connections (and migrations) steered to each worker, index = worker.
    public var selections: [UInt64]
    /// Nothing selected: the kernel chose a socket itself (empty slot, no group, errors).
    public var fallback: UInt64
    public var loadErrors: UInt64
    public var protocolErrors: UInt64
    public var migrations: UInt64
    public var migrationsWithoutPacket: UInt64
    public var ipv6: UInt64
    public var noGroup: UInt64
    /// Per worker: connections whose Maglev worker it was but which bounded loads sent to
    /// another worker, because it held more than the balance factor allows.
    public var overflowed: [UInt64]

    /// All runs. The program keeps no counter of them (one increment less per
    /// connection): every run counts exactly one selection or one fallback.
    public var total: UInt64 { selections.reduce(0, &+) &+ fallback }

    public init(raw: [UInt64]) {
        func at(_ i: Int32) -> UInt64 { Int(i) < raw.count ? raw[Int(i)] : 0 }
        selections = Array(raw.prefix(Int(ES_MAX_WORKERS)))
        fallback = at(ES_CNT_FALLBACK)
        loadErrors = at(ES_CNT_ERR_LOAD)
        protocolErrors = at(ES_CNT_ERR_PROTO)
        migrations = at(ES_CNT_MIGRATE)
        migrationsWithoutPacket = at(ES_CNT_MIGRATE_NOPKT)
        ipv6 = at(ES_CNT_IPV6)
        noGroup = at(ES_CNT_NO_GROUP)
        overflowed = (0..<Int(ES_MAX_WORKERS)).map { at(ES_CNT_OVERFLOW + Int32($0)) }
    }

    /// Overflows away from one worker (0 when out of range).
    public func overflowed(of worker: Int) -> UInt64 {
        worker >= 0 && worker < overflowed.count ? overflowed[worker] : 0
    }

    /// Selections of one worker (0 when out of range).
    public func selections(of worker: Int) -> UInt64 {
        worker >= 0 && worker < selections.count ? selections[worker] : 0
    }
}
