/// The kernel steering figures of `stats --json`: the program, its configuration and its
/// counters, read from the pinned maps.
public struct KernelSteering: Codable, Sendable, Equatable {
    public var programID: UInt64
    public var programName: String
    public var attached: Bool
    public var runCount: UInt64
    /// Nil (`null`) while the kernel's BPF statistics are off.
    @Nullable public var nanosecondsPerDecision: Double?
    public var generation: UInt64
    public var ipv4Prefix: Int
    public var ipv6Prefix: Int
    /// Workers per listener group.
    public var workers: Int
    public var drained: [Int]
    /// Per worker, in worker order.
    public var selections: [UInt64]
    public var overflowed: [UInt64]
    /// Nil (`null`) with bounded loads off.
    @Nullable public var balanceFactor: Double?
    public var fallbacks: UInt64
    public var migrations: UInt64
    public var ipv6: UInt64
    public var decisions: UInt64

    enum CodingKeys: String, CodingKey {
        case attached, generation, workers, drained, selections, overflowed, fallbacks, migrations, ipv6, decisions
        case programID = "program_id", programName = "program_name", runCount = "run_count"
        case nanosecondsPerDecision = "ns_per_decision", ipv4Prefix = "ipv4_prefix", ipv6Prefix = "ipv6_prefix"
        case balanceFactor = "balance_factor"
    }

    public init(
        programID: UInt64, programName: String, attached: Bool, runCount: UInt64, nanosecondsPerDecision: Double?,
        generation: UInt64, ipv4Prefix: Int, ipv6Prefix: Int, workers: Int, drained: [Int], selections: [UInt64],
        overflowed: [UInt64], balanceFactor: Double?, fallbacks: UInt64, migrations: UInt64, ipv6: UInt64, decisions: UInt64
    ) {
        (self.programID, self.programName, self.attached, self.runCount) = (programID, programName, attached, runCount)
        self.nanosecondsPerDecision = nanosecondsPerDecision
        (self.generation, self.ipv4Prefix, self.ipv6Prefix, self.workers) = (generation, ipv4Prefix, ipv6Prefix, workers)
        (self.drained, self.selections, self.overflowed) = (drained, selections, overflowed)
        self.balanceFactor = balanceFactor
        (self.fallbacks, self.migrations, self.ipv6, self.decisions) = (fallbacks, migrations, ipv6, decisions)
    }
}
