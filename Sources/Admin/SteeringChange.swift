/// What `edgesplit maps drain|undrain|set-prefix|set-balance --json` prints: the steering
/// state after the change.
public struct SteeringChange: Codable, Sendable, Equatable {
    public var instance: String
    /// The worker drained or undrained; left out for the other changes.
    public var worker: Int?
    /// Whether `worker` is drained now; left out with `worker`.
    public var drained: Bool?
    public var drainedWorkers: [Int]
    public var ipv4Prefix: Int
    public var ipv6Prefix: Int
    /// Nil (`null`) with bounded loads off.
    @Nullable public var balanceFactor: Double?
    public var generation: UInt64

    enum CodingKeys: String, CodingKey {
        case instance, worker, drained, generation
        case drainedWorkers = "drained_workers", ipv4Prefix = "ipv4_prefix", ipv6Prefix = "ipv6_prefix", balanceFactor = "balance_factor"
    }

    public init(
        instance: String, worker: Int?, drained: Bool?, drainedWorkers: [Int], ipv4Prefix: Int, ipv6Prefix: Int,
        balanceFactor: Double?, generation: UInt64
    ) {
        (self.instance, self.worker, self.drained, self.drainedWorkers) = (instance, worker, drained, drainedWorkers)
        (self.ipv4Prefix, self.ipv6Prefix, self.generation) = (ipv4Prefix, ipv6Prefix, generation)
        self.balanceFactor = balanceFactor
    }
}
