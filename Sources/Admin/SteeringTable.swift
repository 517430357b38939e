/// `edgesplit maps show --json`: the kernel steering table of a running instance, as read
/// from its pinned maps. Scripts read these keys; they are kept stable.
public struct SteeringTable: Codable, Sendable, Equatable {
    /// One worker's row: its share of the table and what the program counted for it.
    public struct Worker: Codable, Sendable, Equatable {
        public var worker: Int
        public var slots: Int
        /// slots / table size, rounded to four decimals.
        public var share: Double
        public var drained: Bool
        public var selections: UInt64
        public var overflowed: UInt64
        /// Open connections the worker holds now (bounded loads count them).
        public var open: UInt64

        public init(worker: Int, slots: Int, share: Double, drained: Bool, selections: UInt64, overflowed: UInt64, open: UInt64) {
            (self.worker, self.slots, self.share, self.drained) = (worker, slots, share, drained)
            (self.selections, self.overflowed, self.open) = (selections, overflowed, open)
        }
    }

    /// A listener group: a listening address:port whose sockets take slots
    /// `base ..< base + workers` of the steering program's socket array.
    public struct Group: Codable, Sendable, Equatable {
        public var address: String
        public var port: Int
        public var base: Int

        public init(address: String, port: Int, base: Int) {
            (self.address, self.port, self.base) = (address, port, base)
        }
    }

    public var instance: String
    public var pinPath: String
    public var ipv4Prefix: Int
    public var ipv6Prefix: Int
    public var seed: UInt64
    public var generation: UInt64
    public var activeHalf: Int
    public var workerCount: Int
    /// Nil (`null`) with bounded loads off.
    @Nullable public var balanceFactor: Double?
    public var workers: [Worker]
    public var groups: [Group]
    public var fallback: UInt64
    public var total: UInt64

    enum CodingKeys: String, CodingKey {
        case instance, seed, generation, workers, groups, fallback, total
        case pinPath = "pin_path", ipv4Prefix = "ipv4_prefix", ipv6Prefix = "ipv6_prefix", activeHalf = "active_half"
        case workerCount = "worker_count", balanceFactor = "balance_factor"
    }

    public init(
        instance: String, pinPath: String, ipv4Prefix: Int, ipv6Prefix: Int, seed: UInt64, generation: UInt64,
        activeHalf: Int, workerCount: Int, balanceFactor: Double?, workers: [Worker], groups: [Group],
        fallback: UInt64, total: UInt64
    ) {
        (self.instance, self.pinPath, self.ipv4Prefix, self.ipv6Prefix) = (instance, pinPath, ipv4Prefix, ipv6Prefix)
        (self.seed, self.generation, self.activeHalf, self.workerCount) = (seed, generation, activeHalf, workerCount)
        self.balanceFactor = balanceFactor
        (self.workers, self.groups, self.fallback, self.total) = (workers, groups, fallback, total)
    }
}
