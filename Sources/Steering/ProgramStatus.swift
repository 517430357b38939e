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
