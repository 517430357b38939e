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
    public var total: UInt64
    public var noGroup: UInt64

    public init(raw: [UInt64]) {
        func at(_ i: Int32) -> UInt64 { Int(i) < raw.count ? raw[Int(i)] : 0 }
        selections = Array(raw.prefix(Int(ES_MAX_WORKERS)))
        fallback = at(ES_CNT_FALLBACK)
        loadErrors = at(ES_CNT_ERR_LOAD)
        protocolErrors = at(ES_CNT_ERR_PROTO)
        migrations = at(ES_CNT_MIGRATE)
        migrationsWithoutPacket = at(ES_CNT_MIGRATE_NOPKT)
        ipv6 = at(ES_CNT_IPV6)
        total = at(ES_CNT_TOTAL)
        noGroup = at(ES_CNT_NO_GROUP)
    }

    /// Selections of one worker (0 when out of range).
    public func selections(of worker: Int) -> UInt64 {
        worker >= 0 && worker < selections.count ? selections[worker] : 0
    }
}

/// The loaded program of an instance as the kernel reports it (`edgesplit bpf status`).
public struct ProgramStatus: Sendable, Equatable {
    public var pinPath: String
    /// Whether a program is pinned for the instance.
    public var loaded: Bool
    public var id: UInt32
    public var name: String
    /// `sk_reuseport/migrate` (true) or plain `sk_reuseport`.
    public var migrates: Bool
    public var runCount: UInt64
    public var runTimeNanoseconds: UInt64
    /// Whether the kernel is collecting run-time statistics now (kernel.bpf_stats_enabled
    /// or a process holding BPF_STATS_RUN_TIME).
    public var statsEnabled: Bool
    /// Sockarray slots holding a listening socket (0 when the instance is stopped).
    public var filledSlots: [Int]
    /// Registered listener groups.
    public var groups: [ListenerGroupInfo]

    /// Average nanoseconds per decision, nil before the first timed run.
    public var nanosecondsPerRun: Double? {
        runCount > 0 && runTimeNanoseconds > 0 ? Double(runTimeNanoseconds) / Double(runCount) : nil
    }

    /// Attached in the sense an operator means: loaded and listening sockets are in its map.
    public var attached: Bool { loaded && !filledSlots.isEmpty }
}

/// A listener group registered in the `groups` map.
public struct ListenerGroupInfo: Sendable, Equatable {
    public var address: String
    public var port: Int
    public var base: Int
}
