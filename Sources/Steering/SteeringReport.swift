import Affinity

/// What the `edgesplit maps …` and `edgesplit bpf …` commands print, as text and as JSON
/// (stable snake_case keys). The command files only choose which one to print.
public struct SteeringReport {
    public let text: String
    public let json: JSONValue

    public init(text: String, json: JSONValue) {
        self.text = text
        self.json = json
    }

    /// `edgesplit maps show`.
    public static func show(_ maps: InstanceMaps) throws -> SteeringReport {
        let model = try maps.model()
        let config = model.configuration
        let counters = try maps.counters()
        let loads = try maps.loads()
        let shares = model.table.shares
        let size = Double(PackedWorkerTable.slotCount)
        var lines = [
            "instance \(maps.instance) (\(maps.directory))",
            "prefixes /\(config.mask.ipv4Prefix) (IPv4) /\(config.mask.ipv6Prefix) (IPv6), seed 0x\(String(config.seed, radix: 16)), generation \(config.generation), active half \(config.activeHalf)",
            balanceLine(config, loads: loads),
            pad(["worker", "share", "slots", "state", "selections", "overflowed", "open"]),
        ]
        var workers: [JSONValue] = []
        for w in 0..<config.workerCount {
            let slots = shares[UInt32(w)] ?? 0
            let drained = config.drained.contains(w)
            let share = Double(slots) / size
            lines.append(pad([
                String(w), percent(share), String(slots), drained ? "drained" : "active", String(counters.selections(of: w)),
                String(counters.overflowed(of: w)), String(loads[w]),
            ]))
            workers.append(.object([
                ("worker", .int(Int64(w))), ("slots", .int(Int64(slots))), ("share", .double(rounded(share))),
                ("drained", .bool(drained)), ("selections", .uint(counters.selections(of: w))),
                ("overflowed", .uint(counters.overflowed(of: w))), ("open", .uint(loads[w])),
            ]))
        }
        let groups = maps.groups()
        for g in groups {
            lines.append("listener \(g.address.contains(":") ? "[\(g.address)]" : g.address):\(g.port) slots \(g.base)...\(g.base + config.workerCount - 1)")
        }
        lines.append("fallbacks \(counters.fallback), total \(counters.total)")
        let json = JSONValue.object([
            ("instance", .string(maps.instance)),
            ("pin_path", .string(maps.directory)),
            ("ipv4_prefix", .int(Int64(config.mask.ipv4Prefix))),
            ("ipv6_prefix", .int(Int64(config.mask.ipv6Prefix))),
            ("seed", .uint(UInt64(config.seed))),
            ("generation", .uint(UInt64(config.generation))),
            ("active_half", .int(Int64(config.activeHalf))),
            ("worker_count", .int(Int64(config.workerCount))),
            ("balance_factor", config.balance.map { .double($0.factor) } ?? .null),
            ("workers", .array(workers)),
            ("groups", .array(groups.map(groupJSON))),
            ("fallback", .uint(counters.fallback)),
            ("total", .uint(counters.total)),
        ])
        return SteeringReport(text: lines.joined(separator: "\n"), json: json)
    }

    /// `edgesplit maps where <client-ip>`.
    public static func whereIs(_ text: String, _ maps: InstanceMaps) throws -> SteeringReport {
        guard ClientAddress(text) != nil else { throw SteeringError.badAddress(text) }
        return try whereIs([text], maps)[0]
    }

    /// `edgesplit maps where <client-ip>…`: one report per address, from one read of the
    /// live maps (the table is 6421 entries; reading it per address is slow).
    public static func whereIs(_ texts: [String], _ maps: InstanceMaps) throws -> [SteeringReport] {
        if let bad = texts.first(where: { ClientAddress($0) == nil }) { throw SteeringError.badAddress(bad) }
        let model = try maps.model()
        let loads = try maps.loads()
        return try texts.map { try whereIs($0, model, loads: loads) }
    }

    /// `loads`: open connections per worker as the program reads them; with bounded loads on,
    /// the report says whether the client would overflow now and to which worker.
    static func whereIs(_ text: String, _ model: SteeringModel, loads: [UInt64] = []) throws -> SteeringReport {
        guard let client = ClientAddress(text) else { throw SteeringError.badAddress(text) }
        let hash = model.hash(of: client)
        let slot = model.slot(of: client)
        guard let worker = model.worker(for: client) else {
            throw SteeringError.system(operation: "look up \(client)", errno: 2, detail: "the live table has no worker in slot \(slot)")
        }
        let masked = AffinityHash.masked(client, mask: model.configuration.mask)
        let prefix = model.configuration.mask.prefix(for: client.family)
        let detail = "key \(masked)/\(prefix), hash 0x\(String(hash, radix: 16)), slot \(slot), generation \(model.configuration.generation)"
        var fields: [(String, JSONValue)] = [
            ("client", .string(client.description)), ("key", .string("\(masked)/\(prefix)")),
            ("hash", .uint(UInt64(hash))), ("slot", .int(Int64(slot))),
        ]
        guard let balance = model.configuration.balance else {
            fields += [("worker", .int(Int64(worker))), ("generation", .uint(UInt64(model.configuration.generation)))]
            return SteeringReport(text: "\(client) → worker \(worker) (\(detail))", json: .object(fields))
        }
        let decision = balance.decide(maglevWorker: worker, loads: loads, configuration: model.configuration)
        let open = worker < loads.count ? loads[worker] : 0
        let bound = String(format1: decision.bound)
        let text = decision.overflowed
            ? "\(client) → worker \(decision.worker) now, overflowing from worker \(worker) (it holds \(open) open connections, the bound is \(bound); \(detail))"
            : "\(client) → worker \(worker) (holds \(open) open connections, under the bound \(bound); \(detail))"
        fields += [
            ("worker", .int(Int64(decision.worker))), ("maglev_worker", .int(Int64(worker))),
            ("overflow", .bool(decision.overflowed)), ("open", .uint(open)), ("bound", .double(rounded(decision.bound))),
            ("balance_factor", .double(balance.factor)), ("generation", .uint(UInt64(model.configuration.generation))),
        ]
        return SteeringReport(text: text, json: .object(fields))
    }

    private static func balanceLine(_ config: SteeringConfiguration, loads: [UInt64]) -> String {
        guard let balance = config.balance else { return "bounded loads off (pure affinity)" }
        let live = config.undrainedWorkers
        let total = live.reduce(UInt64(0)) { $0 + loads[$1] }
        let mean = live.isEmpty ? 0 : Double(total) / Double(live.count)
        return "bounded loads: balance factor \(balance.text), \(total) open connections, mean \(String(format1: mean)), walk step \(config.walkStep)"
    }

    /// After `maps drain` / `undrain` / `set-prefix`: the new state in one line.
    public static func changed(_ what: String, worker: Int?, _ maps: InstanceMaps) throws -> SteeringReport {
        let config = try maps.configuration()
        var fields: [(String, JSONValue)] = [("instance", .string(maps.instance))]
        if let worker {
            fields.append(("worker", .int(Int64(worker))))
            fields.append(("drained", .bool(config.drained.contains(worker))))
        }
        fields += [
            ("drained_workers", .array(config.drained.sorted().map { .int(Int64($0)) })),
            ("ipv4_prefix", .int(Int64(config.mask.ipv4Prefix))),
            ("ipv6_prefix", .int(Int64(config.mask.ipv6Prefix))),
            ("balance_factor", config.balance.map { .double($0.factor) } ?? .null),
            ("generation", .uint(UInt64(config.generation))),
        ]
        let drained = config.drained.isEmpty ? "none" : config.drained.sorted().map(String.init).joined(separator: ",")
        return SteeringReport(
            text: "\(what); drained workers: \(drained); prefixes /\(config.mask.ipv4Prefix) /\(config.mask.ipv6Prefix); generation \(config.generation)",
            json: .object(fields))
    }

    /// `edgesplit bpf status`.
    public static func status(_ maps: InstanceMaps) throws -> SteeringReport {
        let s = try maps.programStatus()
        let counters = try maps.counters()
        let workerCount = try maps.configuration().workerCount
        let ns = s.nanosecondsPerRun
        var lines = ["instance \(maps.instance), pin path \(s.pinPath)"]
        if s.loaded {
            lines.append("program id \(s.id) \(s.name) (\(s.migrates ? "sk_reuseport/migrate" : "sk_reuseport")), \(s.attached ? "attached" : "not attached (no listening sockets)")")
            let timing = ns.map { String(format1: $0) + " ns per decision" } ?? "no timing (kernel BPF stats off)"
            lines.append("runs \(s.runCount), \(timing)")
        } else {
            lines.append("no program pinned")
        }
        lines.append("sockets in slots: \(s.filledSlots.isEmpty ? "none" : s.filledSlots.map(String.init).joined(separator: ","))")
        lines.append("fallbacks \(counters.fallback), migrations \(counters.migrations), ipv6 \(counters.ipv6), no group \(counters.noGroup), errors \(counters.loadErrors + counters.protocolErrors)")
        let json = JSONValue.object([
            ("instance", .string(maps.instance)),
            ("pin_path", .string(s.pinPath)),
            ("loaded", .bool(s.loaded)),
            ("program_id", .uint(UInt64(s.id))),
            ("program_name", .string(s.name)),
            ("migrate", .bool(s.migrates)),
            ("attached", .bool(s.attached)),
            ("run_count", .uint(s.runCount)),
            ("run_time_ns", .uint(s.runTimeNanoseconds)),
            ("ns_per_decision", ns.map { .double(rounded($0)) } ?? .null),
            ("stats_enabled", .bool(s.statsEnabled)),
            ("filled_slots", .array(s.filledSlots.map { .int(Int64($0)) })),
            ("groups", .array(s.groups.map(groupJSON))),
            ("counters", .object([
                ("total", .uint(counters.total)), ("fallback", .uint(counters.fallback)),
                ("err_load", .uint(counters.loadErrors)), ("err_proto", .uint(counters.protocolErrors)),
                ("migrate", .uint(counters.migrations)), ("migrate_nopkt", .uint(counters.migrationsWithoutPacket)),
                ("ipv6", .uint(counters.ipv6)), ("no_group", .uint(counters.noGroup)),
                ("selections", .array(counters.selections.prefix(workerCount).map { .uint($0) })),
                ("overflowed", .array(counters.overflowed.prefix(workerCount).map { .uint($0) })),
            ])),
        ])
        return SteeringReport(text: lines.joined(separator: "\n"), json: json)
    }

    private static func groupJSON(_ g: ListenerGroupInfo) -> JSONValue {
        .object([("address", .string(g.address)), ("port", .int(Int64(g.port))), ("base", .int(Int64(g.base)))])
    }

    private static func pad(_ cols: [String]) -> String {
        cols.map { $0 + String(repeating: " ", count: max(0, 11 - $0.count)) }.joined().trimmingTrailingSpaces()
    }

    private static func percent(_ x: Double) -> String { String(format1: x * 100) + "%" }
    private static func rounded(_ x: Double) -> Double { (x * 10000).rounded() / 10000 }
}

extension String {
    /// One decimal place, without Foundation.
    init(format1 x: Double) {
        let tenths = Int((x * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }

    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
