/// The steering state of one edgesplit instance as the kernel program sees it (the `cfg`
/// map), in operator terms. Pure: the CLI reads it from the pinned maps, tests and the
/// simulator build it directly.
public struct SteeringConfiguration: Sendable, Equatable {
    /// The most workers (listening sockets) per listener group.
    public static let maxWorkers = 64

    public var mask: AffinityMask
    public var seed: UInt32
    /// Workers per listener group; worker ids are 0..<workerCount.
    public var workerCount: Int
    /// Drained workers: absent from the table, so no new client is steered to them.
    public var drained: Set<Int>
    /// The live half of the double-buffered table (0 or 1).
    public var activeHalf: Int
    /// Bumped on every table switch.
    public var generation: UInt32
    /// Bounded loads (`affinity.balance_factor`); nil is pure affinity.
    public var balance: BoundedLoad?
    /// The `loads` row of the newest serving process (0 or 1).
    public var loadRow: Int

    public init(
        mask: AffinityMask, seed: UInt32, workerCount: Int, drained: Set<Int> = [],
        activeHalf: Int = 0, generation: UInt32 = 1, balance: BoundedLoad? = nil, loadRow: Int = 0
    ) {
        self.mask = mask
        self.seed = seed
        self.workerCount = workerCount
        self.drained = drained
        self.activeHalf = activeHalf
        self.generation = generation
        self.balance = balance
        self.loadRow = loadRow
    }

    /// The overflow walk's step (`cfg.walk_step`), from the seed and the worker count.
    public var walkStep: Int { BoundedLoad.walkStep(seed: seed, workers: workerCount) }

    /// Workers that take new clients, ascending.
    public var undrainedWorkers: [Int] { (0..<workerCount).filter { !drained.contains($0) } }

    /// The Maglev members for this configuration: every undrained worker, weight 1.
    public var members: [MaglevMember] { undrainedWorkers.map { MaglevMember(id: UInt32($0), weight: 1) } }

    /// The kernel's worker table for this configuration: Maglev over `members`, 6421 slots.
    public var table: MaglevTable { MaglevTable(members: members, size: MaglevTable.workerTableSize) }

    /// `drained` as the kernel's bit mask (bit w = worker w).
    public var drainedMask: UInt64 {
        drained.reduce(0) { $1 < 64 && $1 >= 0 ? $0 | (1 << UInt64($1)) : $0 }
    }

    /// The inverse of `drainedMask`.
    public static func workers(inMask mask: UInt64) -> Set<Int> {
        Set((0..<64).filter { mask & (1 << UInt64($0)) != 0 })
    }
}
