/// `edgesplit maps where --json`: the worker the kernel picks for one client address, and
/// how (its masked key, hash and table slot). One object per address, one per line.
public struct ClientPlacement: Codable, Sendable, Equatable {
    /// With bounded loads on: whether the client overflows from its Maglev worker now.
    public struct Overflow: Sendable, Equatable {
        /// The worker the table names (`worker` is where the client goes now).
        public var maglevWorker: Int
        public var overflow: Bool
        /// Open connections on the Maglev worker.
        public var open: UInt64
        /// The most open connections a worker may hold before a new client overflows; nil
        /// (`null`) where the program applies no bound, as JSON has no infinity.
        public var bound: Double?
        public var balanceFactor: Double

        public init(maglevWorker: Int, overflow: Bool, open: UInt64, bound: Double?, balanceFactor: Double) {
            (self.maglevWorker, self.overflow, self.open, self.bound, self.balanceFactor) = (maglevWorker, overflow, open, bound, balanceFactor)
        }
    }

    public var client: String
    /// The masked address and prefix, `198.51.100.0/24`.
    public var key: String
    public var hash: UInt64
    public var slot: Int
    public var worker: Int
    public var generation: UInt64
    /// Nil with bounded loads off: the keys are left out then, as the table alone decides.
    public var bounded: Overflow?

    enum CodingKeys: String, CodingKey {
        case client, key, hash, slot, worker, generation, overflow, open, bound
        case maglevWorker = "maglev_worker", balanceFactor = "balance_factor"
    }

    public init(client: String, key: String, hash: UInt64, slot: Int, worker: Int, generation: UInt64, bounded: Overflow?) {
        (self.client, self.key, self.hash, self.slot, self.worker, self.generation) = (client, key, hash, slot, worker, generation)
        self.bounded = bounded
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        client = try c.decode(String.self, forKey: .client)
        key = try c.decode(String.self, forKey: .key)
        hash = try c.decode(UInt64.self, forKey: .hash)
        slot = try c.decode(Int.self, forKey: .slot)
        worker = try c.decode(Int.self, forKey: .worker)
        generation = try c.decode(UInt64.self, forKey: .generation)
        bounded = try c.decodeIfPresent(Int.self, forKey: .maglevWorker).map { maglevWorker in
            Overflow(
                maglevWorker: maglevWorker, overflow: try c.decode(Bool.self, forKey: .overflow), open: try c.decode(UInt64.self, forKey: .open),
                bound: try c.decodeIfPresent(Double.self, forKey: .bound), balanceFactor: try c.decode(Double.self, forKey: .balanceFactor))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(client, forKey: .client)
        try c.encode(key, forKey: .key)
        try c.encode(hash, forKey: .hash)
        try c.encode(slot, forKey: .slot)
        try c.encode(worker, forKey: .worker)
        try c.encode(generation, forKey: .generation)
        if let bounded {
            try c.encode(bounded.maglevWorker, forKey: .maglevWorker)
            try c.encode(bounded.overflow, forKey: .overflow)
            try c.encode(bounded.open, forKey: .open)
            try c.encode(bounded.bound, forKey: .bound)
            try c.encode(bounded.balanceFactor, forKey: .balanceFactor)
        }
    }
}
