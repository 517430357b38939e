/// `edgesplit bpf status --json`: the loaded steering program of an instance, its attach
/// state and run statistics, and the program's own counters.
public struct SteeringProgramReport: Codable, Sendable, Equatable {
    /// What the program counted, as it counts it (one figure per map entry).
    public struct Counters: Codable, Sendable, Equatable {
        public var total: UInt64
        public var fallback: UInt64
        public var loadErrors: UInt64
        public var protocolErrors: UInt64
        public var migrations: UInt64
        public var migrationsWithoutPacket: UInt64
        public var ipv6: UInt64
        public var noGroup: UInt64
        /// Per worker, in worker order.
        public var selections: [UInt64]
        public var overflowed: [UInt64]

        enum CodingKeys: String, CodingKey {
            case total, fallback, ipv6, selections, overflowed
            case loadErrors = "err_load", protocolErrors = "err_proto", migrations = "migrate"
            case migrationsWithoutPacket = "migrate_nopkt", noGroup = "no_group"
        }

        public init(
            total: UInt64, fallback: UInt64, loadErrors: UInt64, protocolErrors: UInt64, migrations: UInt64,
            migrationsWithoutPacket: UInt64, ipv6: UInt64, noGroup: UInt64, selections: [UInt64], overflowed: [UInt64]
        ) {
            (self.total, self.fallback, self.loadErrors, self.protocolErrors) = (total, fallback, loadErrors, protocolErrors)
            (self.migrations, self.migrationsWithoutPacket, self.ipv6, self.noGroup) = (migrations, migrationsWithoutPacket, ipv6, noGroup)
            (self.selections, self.overflowed) = (selections, overflowed)
        }
    }

    public var instance: String
    public var pinPath: String
    public var loaded: Bool
    public var programID: UInt64
    public var programName: String
    /// Whether the program is the `sk_reuseport/migrate` kind (kernel 5.14 and later).
    public var migrate: Bool
    public var attached: Bool
    public var runCount: UInt64
    public var runTimeNanoseconds: UInt64
    /// Nil (`null`) while the kernel's BPF statistics are off.
    @Nullable public var nanosecondsPerDecision: Double?
    public var statsEnabled: Bool
    public var filledSlots: [Int]
    public var groups: [SteeringTable.Group]
    public var counters: Counters

    enum CodingKeys: String, CodingKey {
        case instance, loaded, migrate, attached, groups, counters
        case pinPath = "pin_path", programID = "program_id", programName = "program_name", runCount = "run_count"
        case runTimeNanoseconds = "run_time_ns", nanosecondsPerDecision = "ns_per_decision", statsEnabled = "stats_enabled"
        case filledSlots = "filled_slots"
    }

    public init(
        instance: String, pinPath: String, loaded: Bool, programID: UInt64, programName: String, migrate: Bool,
        attached: Bool, runCount: UInt64, runTimeNanoseconds: UInt64, nanosecondsPerDecision: Double?,
        statsEnabled: Bool, filledSlots: [Int], groups: [SteeringTable.Group], counters: Counters
    ) {
        (self.instance, self.pinPath, self.loaded, self.programID, self.programName) = (instance, pinPath, loaded, programID, programName)
        (self.migrate, self.attached, self.runCount, self.runTimeNanoseconds) = (migrate, attached, runCount, runTimeNanoseconds)
        self.nanosecondsPerDecision = nanosecondsPerDecision
        (self.statsEnabled, self.filledSlots, self.groups, self.counters) = (statsEnabled, filledSlots, groups, counters)
    }
}

/// `edgesplit bpf load|unload --json`: what was done to an instance's pinned state.
public struct SteeringPinChange: Codable, Sendable, Equatable {
    public var instance: String
    public var pinPath: String
    /// `bpf unload`: true once the pins are removed; left out by `bpf load`.
    public var unloaded: Bool?
    /// `bpf load`: whether the loaded program migrates; left out by `bpf unload`.
    public var migrate: Bool?

    enum CodingKeys: String, CodingKey {
        case instance, unloaded, migrate
        case pinPath = "pin_path"
    }

    public init(instance: String, pinPath: String, unloaded: Bool? = nil, migrate: Bool? = nil) {
        (self.instance, self.pinPath, self.unloaded, self.migrate) = (instance, pinPath, unloaded, migrate)
    }
}
