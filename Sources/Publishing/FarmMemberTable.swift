import Affinity

/// Source persistence for one farm, without I/O: which member a client goes to, given
/// which members are available. The data plane (`FarmBalancer`) and `edgesplit test-rule`
/// both choose through this type, so the simulator cannot disagree with the proxy.
///
/// Member ids come from the member's configured text (`host:port`, FNV-1a), never from its
/// position, so every edgesplit host with the same configuration picks the same member for
/// a client without sharing state. The table is Maglev over the available members' ids,
/// keyed by the same masked-address hash the kernel uses for workers: a member going down
/// moves only its own clients.
public struct FarmMemberTable: Sendable {
    /// By member index.
    public let memberIDs: [UInt32]
    public let mask: AffinityMask
    public let seed: UInt32
    /// The members the table was built over (by member index).
    public let available: [Bool]
    private let table: MaglevTable

    public init(farm: Farm, available: [Bool]? = nil, mask: AffinityMask, seed: UInt32) {
        self.init(memberIDs: farm.members.map { Self.memberID($0.text) }, available: available, mask: mask, seed: seed)
    }

    public init(memberIDs: [UInt32], available: [Bool]? = nil, mask: AffinityMask, seed: UInt32) {
        let available = available ?? Array(repeating: true, count: memberIDs.count)
        precondition(available.count == memberIDs.count, "one availability per member")
        self.memberIDs = memberIDs
        self.mask = mask
        self.seed = seed
        self.available = available
        self.table = MaglevTable(
            members: available.indices.filter { available[$0] }.map { MaglevMember(id: memberIDs[$0], weight: 1) },
            size: MaglevTable.farmTableSize
        )
    }

    /// A stable 32-bit id from the member's configured text (FNV-1a).
    public static func memberID(_ text: String) -> UInt32 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash
    }

    /// The affinity hash of `client` (masked by `mask`, seeded by `seed`).
    public func hash(of client: ClientAddress) -> UInt32 {
        AffinityHash.hash(client, mask: mask, seed: seed)
    }

    /// The member index for `client`; nil when no member is available.
    public func member(for client: ClientAddress) -> Int? {
        guard available.contains(true) else { return nil }
        let id = table.member(forHash: hash(of: client))
        return memberIDs.firstIndex(of: id)
    }
}
