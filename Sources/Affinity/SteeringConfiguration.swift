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
    /// The overflow walk's step as `cfg.walk_step` holds it; nil: derived from the seed and
    /// the worker count (`BoundedLoad.walkStep`), which is what edgesplit writes.
    public var storedWalkStep: Int?

    public init(
        mask: AffinityMask, seed: UInt32, workerCount: Int, drained: Set<Int> = [],
        activeHalf: Int = 0, generation: UInt32 = 1, balance: BoundedLoad? = nil, storedWalkStep: Int? = nil
    ) {
        self.mask = mask
        self.seed = seed
        self.workerCount = workerCount
        self.drained = drained
        self.activeHalf = activeHalf
        self.generation = generation
        self.balance = balance
        self.storedWalkStep = storedWalkStep
    }

    /// The overflow walk's step as the program uses it: the stored one, or the one derived
    /// from the seed, clamped as the program clamps it (0 or ≥ the worker count: 1).
    public var walkStep: Int {
        let step = storedWalkStep ?? BoundedLoad.walkStep(seed: seed, workers: workerCount)
        return step == 0 || step >= workerCount ? 1 : step
    }

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
