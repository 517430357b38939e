/// "Where does this client go": the kernel's choice computed from a configuration and a
/// table, the same steps as BPF/steer.bpf.c (hash, slot = hash % 6421, the slot's byte in
/// the packed table). It answers `edgesplit maps where` and serves as a simulator for tests.
public struct SteeringModel: Sendable, Equatable {
    public var configuration: SteeringConfiguration
    /// The live table as the kernel holds it (one half of the `maglev` map).
    public var packed: PackedWorkerTable

    public init(configuration: SteeringConfiguration, packed: PackedWorkerTable) {
        self.configuration = configuration
        self.packed = packed
    }

    public init(configuration: SteeringConfiguration, table: MaglevTable) {
        self.init(configuration: configuration, packed: PackedWorkerTable(table))
    }

    /// A model whose table is built from the configuration (every undrained worker, weight 1).
    public init(configuration: SteeringConfiguration) {
        self.init(configuration: configuration, table: configuration.table)
    }

    /// The table unpacked (worker id per slot); setting it packs the new table.
    public var table: MaglevTable {
        get { packed.table }
        set { packed = PackedWorkerTable(newValue) }
    }

    /// The affinity hash of a client under this configuration.
    public func hash(of client: ClientAddress) -> UInt32 {
        AffinityHash.hash(client, mask: configuration.mask, seed: configuration.seed)
    }

    /// The table slot of a client: hash % 6421.
    public func slot(of client: ClientAddress) -> Int {
        Int(hash(of: client) % UInt32(PackedWorkerTable.slotCount))
    }

    /// The worker the program selects for `client`, or nil when the table slot holds no
    /// valid worker (the program then falls back to the kernel's own choice).
    public func worker(for client: ClientAddress) -> Int? {
        let byte = packed.byte(atSlot: slot(of: client))
        guard byte < UInt8(SteeringConfiguration.maxWorkers) else { return nil }
        return Int(byte)
    }
}
