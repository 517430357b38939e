import Admin
import Affinity
import Steering

/// What the `edgesplit maps …` and `edgesplit bpf …` commands print, as text and as JSON
/// (the Codable models in Admin, stable snake_case keys). The command files only choose
/// which one to print; Steering reads and writes the maps and prints nothing.
struct SteeringReport {
    let text: String
    let json: any Encodable & Sendable

    init(text: String, json: any Encodable & Sendable) {
        self.text = text
        self.json = json
    }

    /// `edgesplit maps show`.
    static func show(_ maps: InstanceMaps) throws -> SteeringReport {
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
        var workers: [SteeringTable.Worker] = []
        for w in 0..<config.workerCount {
            let slots = shares[UInt32(w)] ?? 0
            let drained = config.drained.contains(w)
            let share = Double(slots) / size
            lines.append(pad([
                String(w), percent(share), String(slots), drained ? "drained" : "active", String(counters.selections(of: w)),
                String(counters.overflowed(of: w)), String(loads[w]),
            ]))
            workers.append(SteeringTable.Worker(
                worker: w, slots: Int(slots), share: rounded(share), drained: drained, selections: counters.selections(of: w),
                overflowed: counters.overflowed(of: w), open: loads[w]))
        }
        let groups = maps.groups()
        for g in groups {
            lines.append("listener \(g.address.contains(":") ? "[\(g.address)]" : g.address):\(g.port) slots \(g.base)...\(g.base + config.workerCount - 1)")
        }
        lines.append("fallbacks \(counters.fallback), total \(counters.total)")
        let json = SteeringTable(
            instance: maps.instance, pinPath: maps.directory, ipv4Prefix: config.mask.ipv4Prefix, ipv6Prefix: config.mask.ipv6Prefix,
            seed: UInt64(config.seed), generation: UInt64(config.generation), activeHalf: config.activeHalf,
            workerCount: config.workerCount, balanceFactor: config.balance?.factor, workers: workers,
            groups: groups.map(listenerGroup), fallback: counters.fallback, total: counters.total)
        return SteeringReport(text: lines.joined(separator: "\n"), json: json)
    }

    /// `edgesplit maps where <client-ip>`.
    static func whereIs(_ text: String, _ maps: InstanceMaps) throws -> SteeringReport {
        guard ClientAddress(text) != nil else { throw SteeringError.badAddress(text) }
        return try whereIs([text], maps)[0]
    }

    /// `edgesplit maps where <client-ip>…`: one report per address, from one read of the
    /// live maps (the table is 6421 entries; reading it per address is slow).
    static func whereIs(_ texts: [String], _ maps: InstanceMaps) throws -> [SteeringReport] {
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
        var placement = ClientPlacement(
            client: client.description, key: "\(masked)/\(prefix)", hash: UInt64(hash), slot: slot, worker: worker,
            generation: UInt64(model.configuration.generation), bounded: nil)
        guard let balance = model.configuration.balance else {
            return SteeringReport(text: "\(client) → worker \(worker) (\(detail))", json: placement)
        }
        let decision = balance.decide(maglevWorker: worker, loads: loads, configuration: model.configuration)
        let open = worker < loads.count ? loads[worker] : 0
        let bound = String(format1: decision.bound)
        let text = decision.overflowed
            ? "\(client) → worker \(decision.worker) now, overflowing from worker \(worker) (it holds \(open) open connections, the bound is \(bound); \(detail))"
            : "\(client) → worker \(worker) (holds \(open) open connections, under the bound \(bound); \(detail))"
        placement.worker = decision.worker
        placement.bounded = ClientPlacement.Overflow(
            maglevWorker: worker, overflow: decision.overflowed, open: open,
            bound: decision.bound.isFinite ? rounded(decision.bound) : nil, balanceFactor: balance.factor)
        return SteeringReport(text: text, json: placement)
    }

    private static func balanceLine(_ config: SteeringConfiguration, loads: [UInt64]) -> String {
        guard let balance = config.balance else { return "bounded loads off (pure affinity)" }
        let live = config.undrainedWorkers
        let total = live.reduce(UInt64(0)) { $0 + loads[$1] }
        let mean = live.isEmpty ? 0 : Double(total) / Double(live.count)
        return "bounded loads: balance factor \(balance.text), \(total) open connections, mean \(String(format1: mean)), walk step \(config.walkStep)"
    }

    /// After `maps drain` / `undrain` / `set-prefix`: the new state in one line.
    static func changed(_ what: String, worker: Int?, _ maps: InstanceMaps) throws -> SteeringReport {
        let config = try maps.configuration()
        let change = SteeringChange(
            instance: maps.instance, worker: worker, drained: worker.map { config.drained.contains($0) },
            drainedWorkers: config.drained.sorted(), ipv4Prefix: config.mask.ipv4Prefix, ipv6Prefix: config.mask.ipv6Prefix,
            balanceFactor: config.balance?.factor, generation: UInt64(config.generation))
        let drained = config.drained.isEmpty ? "none" : config.drained.sorted().map(String.init).joined(separator: ",")
        return SteeringReport(
            text: "\(what); drained workers: \(drained); prefixes /\(config.mask.ipv4Prefix) /\(config.mask.ipv6Prefix); generation \(config.generation)",
            json: change)
    }

    /// `edgesplit bpf status`.
    static func status(_ maps: InstanceMaps) throws -> SteeringReport {
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
        let json = SteeringProgramReport(
            instance: maps.instance, pinPath: s.pinPath, loaded: s.loaded, programID: UInt64(s.id), programName: s.name,
            migrate: s.migrates, attached: s.attached, runCount: s.runCount, runTimeNanoseconds: s.runTimeNanoseconds,
            nanosecondsPerDecision: ns.map(rounded), statsEnabled: s.statsEnabled, filledSlots: s.filledSlots,
            groups: s.groups.map(listenerGroup),
            counters: SteeringProgramReport.Counters(
                total: counters.total, fallback: counters.fallback, loadErrors: counters.loadErrors,
                protocolErrors: counters.protocolErrors, migrations: counters.migrations,
                migrationsWithoutPacket: counters.migrationsWithoutPacket, ipv6: counters.ipv6, noGroup: counters.noGroup,
                selections: Array(counters.selections.prefix(workerCount)), overflowed: Array(counters.overflowed.prefix(workerCount))))
        return SteeringReport(text: lines.joined(separator: "\n"), json: json)
    }

    private static func listenerGroup(_ g: ListenerGroupInfo) -> SteeringTable.Group {
        SteeringTable.Group(address: g.address, port: g.port, base: g.base)
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
