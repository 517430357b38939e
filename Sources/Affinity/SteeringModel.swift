/// "Where does this client go": the kernel's choice computed from a configuration and a
/// table, the same steps as BPF/steer.bpf.c. It answers `edgesplit maps where` and serves
/// as a simulator for tests.
public struct SteeringModel: Sendable, Equatable {
    public var configuration: SteeringConfiguration
    public var table: MaglevTable

    public init(configuration: SteeringConfiguration, table: MaglevTable) {
        self.configuration = configuration
        self.table = table
    }

    /// A model whose table is built from the configuration (every undrained worker, weight 1).
    public init(configuration: SteeringConfiguration) {
        self.init(configuration: configuration, table: MaglevTable(members: configuration.members))
    }

    /// The affinity hash of a client under this configuration.
    public func hash(of client: ClientAddress) -> UInt32 {
        AffinityHash.hash(client, mask: configuration.mask, seed: configuration.seed)
    }

    /// The worker the program selects for `client`, or nil when the table slot holds no
    /// valid worker (the program then falls back to the kernel's own choice).
    public func worker(for client: ClientAddress) -> Int? {
        let id = table.member(forHash: hash(of: client))
        guard id < UInt32(SteeringConfiguration.maxWorkers) else { return nil }
        return Int(id)
    }
}
