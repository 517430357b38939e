/// One member of a Maglev table: a worker of a listener group, or a member of a farm.
/// The id is stable (a worker index, a configured member number); the table depends on
/// ids and weights alone.
public struct MaglevMember: Sendable, Hashable {
    public var id: UInt32
    /// Relative weight; 0 leaves the member out of the table.
    public var weight: UInt32

    public init(id: UInt32, weight: UInt32 = 1) {
        self.id = id
        self.weight = weight
    }
}

/// A Maglev consistent-hashing lookup table (Eisenbud et al., NSDI 2016, §3.4) with
/// Katran's weighted population (MaglevHashV2): `entries[hash % size]` is the member id
/// for a hash.
///
/// Each member walks its own permutation of the slots, derived from its id alone, so the
/// table is deterministic from (ids, weights, size); removing a member moves that member's
/// slots plus a small collateral (it grows with members / size), and adding it back restores
/// the old table exactly.
public struct MaglevTable: Sendable, Equatable {
    /// Slots of the kernel's worker table: the prime 6421 (≥ 100 × 64 workers), ES_MAGLEV_M in
    /// BPF. Small, so the program's random read per connection stays in the CPU's caches.
    public static let workerTableSize = 6421
    /// Slots of a farm's member table (`persistence: source`): the prime 65537, room for
    /// 100 × 655 members. Every edgesplit host must use the same size to agree on members.
    public static let farmTableSize = 65537
    /// Seeds of a member's permutation (offset, skip), as ES_MAGLEV_SEED_* in BPF.
    public static let offsetSeed: UInt32 = 0x3C6E_F372
    public static let skipSeed: UInt32 = 0xA54F_F53A
    /// The entry of a table without members.
    public static let noMember = UInt32.max

    /// The members placed, sorted by id (weight > 0).
    public let members: [MaglevMember]
    /// Member id per slot (`size` of them); `noMember` only when there are no members.
    public let entries: [UInt32]

    /// The number of slots M, a prime.
    public var size: Int { entries.count }

    /// Builds a table of `size` slots (`workerTableSize` or `farmTableSize`). Members with
    /// weight 0 are left out; a repeated id keeps its first entry.
    public init(members: [MaglevMember], size: Int) {
        precondition(size > 1, "a Maglev table has a prime number of slots")
        var seen = Set<UInt32>()
        let placed = members.filter { $0.weight > 0 && seen.insert($0.id).inserted }.sorted { $0.id < $1.id }
        self.members = placed
        self.entries = MaglevTable.populate(placed, size: size)
    }

    /// A table read back from somewhere (the live BPF map); its size is `entries.count`.
    public init(entries: [UInt32]) {
        precondition(entries.count > 1, "a Maglev table has a prime number of slots")
        self.entries = entries
        var ids = Set<UInt32>()
        var last = MaglevTable.noMember
        for e in entries where e != last {
            last = e
            if e != MaglevTable.noMember { ids.insert(e) }
        }
        self.members = ids.sorted().map { MaglevMember(id: $0, weight: 1) }
    }

    /// The member for a hash: `entries[hash % size]`.
    @inlinable
    public func member(forHash hash: UInt32) -> UInt32 {
        entries[Int(hash % UInt32(entries.count))]
    }

    /// The number of slots `id` holds.
    public func share(of id: UInt32) -> Int {
        entries.reduce(0) { $0 + ($1 == id ? 1 : 0) }
    }

    /// Slots per member id.
    public var shares: [UInt32: Int] {
        var result: [UInt32: Int] = [:]
        for e in entries where e != MaglevTable.noMember { result[e, default: 0] += 1 }
        return result
    }

    /// A member's permutation in a table of `size` slots: the first slot it tries and the
    /// step between its tries.
    public static func permutation(of id: UInt32, size: Int) -> (offset: Int, skip: Int) {
        let m = UInt32(size)
        let offset = AffinityHash.murmur(word: id, seed: offsetSeed) % m
        let skip = AffinityHash.murmur(word: id, seed: skipSeed) % (m - 1) + 1
        return (Int(offset), Int(skip))
    }

    private static func populate(_ members: [MaglevMember], size m: Int) -> [UInt32] {
        var result = [UInt32](repeating: noMember, count: m)
        guard !members.isEmpty else { return result }
        if members.count == 1 {
            return [UInt32](repeating: members[0].id, count: m)
        }
        let maxWeight = UInt64(members.map(\.weight).max()!)
        let perms = members.map { permutation(of: $0.id, size: m) }
        var next = [Int](repeating: 0, count: members.count)  // current slot of each walk
        var tried = [Bool](repeating: false, count: members.count)
        var cumulative = [UInt64](repeating: 0, count: members.count)
        var filled = 0
        result.withUnsafeMutableBufferPointer { table in
            while true {
                for i in members.indices {
                    cumulative[i] += UInt64(members[i].weight)
                    while cumulative[i] >= maxWeight {
                        cumulative[i] -= maxWeight
                        let (offset, skip) = perms[i]
                        var cur = tried[i] ? next[i] : offset
                        tried[i] = true
                        while table[cur] != noMember {
                            cur += skip
                            if cur >= m { cur -= m }
                        }
                        table[cur] = members[i].id
                        cur += skip
                        if cur >= m { cur -= m }
                        next[i] = cur
                        filled += 1
                        if filled == m { return }
                    }
                }
            }
        }
        return result
    }
}
