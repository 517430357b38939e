#if canImport(Glibc)
import Glibc
#endif
import Affinity
import CEdgesplitBPF

/// The pinned maps of one edgesplit instance (`/sys/fs/bpf/edgesplit/<instance>/`),
/// opened by path from any process: the running server, the CLI, tests.
///
/// Reading is plain; every change (a worker drained or undrained, a prefix) rewrites the configuration, and
/// table changes go through the double buffer: the inactive half is written in one batch,
/// then `cfg.active` flips, so a SYN sees either the old table or the new one.
public final class InstanceMaps {
    public static let defaultPinRoot = "/sys/fs/bpf/edgesplit"
    static let mapNames = ["workers", "groups", "maglev", "cfg", "counters", "port_groups", "loads"]
    static let programPin = "steer"

    public let instance: String
    public let directory: String

    let workersFD: CInt
    let groupsFD: CInt
    let maglevFD: CInt
    let cfgFD: CInt
    let countersFD: CInt
    let portGroupsFD: CInt
    let loadsFD: CInt

    /// Opens the maps of `instance`. Fails with `.bpffsMissing`, `.noSuchInstance`,
    /// `.notPermitted` or `.layoutMismatch`.
    public init(instance: String, pinRoot: String = InstanceMaps.defaultPinRoot) throws {
        try Self.validate(instance: instance)
        self.instance = instance
        self.directory = pinRoot + "/" + instance
        guard Self.isBPFFS(pinRoot) || Self.isBPFFS(Self.parent(of: pinRoot)) else {
            throw SteeringError.bpffsMissing(path: pinRoot)
        }
        var fds: [CInt] = []
        do {
            for name in Self.mapNames {
                let path = directory + "/" + name
                let fd = bpf_obj_get(path)
                if fd < 0 {
                    let e = errno
                    // A map added by a later layout is missing from an older instance: let
                    // checkLayout say what differs.
                    if e == ENOENT && !fds.isEmpty { fds.append(-1); continue }
                    if e == ENOENT { throw SteeringError.noSuchInstance(instance: instance, path: directory) }
                    throw SteeringError.from(errno: e, "open \(path)")
                }
                fds.append(fd)
            }
        } catch {
            for fd in fds where fd >= 0 { _ = Glibc.close(fd) }
            throw error
        }
        (workersFD, groupsFD, maglevFD, cfgFD, countersFD, portGroupsFD, loadsFD) = (fds[0], fds[1], fds[2], fds[3], fds[4], fds[5], fds[6])
        do {
            // Maps a later layout added (port_groups, loads) are missing from an older one:
            // that is a layout mismatch, reported after the version check says which.
            let added: Set<String> = ["port_groups", "loads"]
            if let missing = zip(Self.mapNames, fds).first(where: { $0.1 < 0 && !added.contains($0.0) }) {
                throw SteeringError.noSuchInstance(instance: instance, path: directory + "/" + missing.0)
            }
            try Self.checkLayout(instance: instance, cfgFD: cfgFD, maglevFD: maglevFD, workersFD: workersFD)
            try Self.checkShapes(instance: instance, [
                ("workers", workersFD, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, UInt32(ES_WORKER_SLOTS)),
                ("groups", groupsFD, BPF_MAP_TYPE_HASH, UInt32(MemoryLayout<es_group_key>.size), 4, UInt32(ES_MAX_GROUPS)),
                ("port_groups", portGroupsFD, BPF_MAP_TYPE_ARRAY, 4, 4, UInt32(ES_PORTS)),
                ("maglev", maglevFD, BPF_MAP_TYPE_ARRAY, 4, 8, UInt32(ES_MAGLEV_ENTRIES)),
                ("cfg", cfgFD, BPF_MAP_TYPE_ARRAY, 4, UInt32(MemoryLayout<es_config>.size), 1),
                ("loads", loadsFD, BPF_MAP_TYPE_ARRAY, 4, UInt32(MemoryLayout<es_loads>.size), 1),
                ("counters", countersFD, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, UInt32(ES_CNT_COUNT)),
            ])
            if let missing = zip(Self.mapNames, fds).first(where: { $0.1 < 0 }) {
                throw SteeringError.layoutMismatch(instance: instance, detail: "no \(missing.0) map")
            }
        } catch {
            for fd in fds where fd >= 0 { _ = Glibc.close(fd) }
            throw error
        }
    }

    deinit {
        for fd in [workersFD, groupsFD, maglevFD, cfgFD, countersFD, portGroupsFD, loadsFD] { _ = Glibc.close(fd) }
    }

    // MARK: Reading

    /// The raw `cfg` entry.
    func rawConfig() throws -> es_config {
        var key: UInt32 = 0
        var value = es_config()
        guard bpf_map_lookup_elem(cfgFD, &key, &value) == 0 else {
            throw SteeringError.from(errno: errno, "read \(directory)/cfg")
        }
        return value
    }

    /// The live configuration.
    public func configuration() throws -> SteeringConfiguration {
        let raw = try rawConfig()
        let mask = AffinityMask(ipv4Prefix: Int(raw.v4_prefix), ipv6Prefix: Int(raw.v6_prefix)) ?? .host
        return SteeringConfiguration(
            mask: mask, seed: raw.seed, workerCount: Int(raw.worker_count),
            drained: SteeringConfiguration.workers(inMask: raw.drained_mask),
            activeHalf: Int(raw.active & 1), generation: raw.generation,
            balance: BoundedLoad(milli: raw.balance_milli), storedWalkStep: Int(raw.walk_step))
    }

    /// Open connections per worker as the program reads them: all rows of `loads` summed
    /// (the serving process's and, during a hitless restart, its predecessor's).
    public func loads() throws -> [UInt64] {
        var key: UInt32 = 0
        var value = es_loads()
        guard bpf_map_lookup_elem(loadsFD, &key, &value) == 0 else {
            throw SteeringError.from(errno: errno, "read \(directory)/loads")
        }
        let n = SteeringConfiguration.maxWorkers
        var sum = [UInt64](repeating: 0, count: n)
        withUnsafeBytes(of: value.active) { raw in
            let cells = raw.bindMemory(to: UInt64.self)
            for row in 0..<Int(ES_LOAD_ROWS) {
                for w in 0..<n { sum[w] &+= cells[row * n + w] }
            }
        }
        return sum
    }

    /// The live (active) half of the Maglev table, unpacked.
    public func table() throws -> MaglevTable {
        try packedTable(half: Int(rawConfig().active & 1)).table
    }

    /// One half of the `maglev` map as the kernel reads it.
    func packedTable(half: Int) throws -> PackedWorkerTable {
        let m = PackedWorkerTable.wordCount
        var keys = [UInt32](repeating: 0, count: m)
        var values = [UInt64](repeating: 0, count: m)
        var count = UInt32(m)
        var outBatch: UInt32 = 0
        var opts = bpf_map_batch_opts()
        opts.sz = MemoryLayout<bpf_map_batch_opts>.size
        // The batch token is the key *before* the first one read (none: from key 0).
        var previous = UInt32(max(half * m - 1, 0))
        let rc = half == 0
            ? bpf_map_lookup_batch(maglevFD, nil, &outBatch, &keys, &values, &count, &opts)
            : bpf_map_lookup_batch(maglevFD, &previous, &outBatch, &keys, &values, &count, &opts)
        if rc != 0 && errno != ENOENT { throw SteeringError.from(errno: errno, "read \(directory)/maglev") }
        let done = Int(count)
        if done < m || keys.first != UInt32(half * m) {
            // Fall back to element lookups (older kernels, short batches).
            for i in 0..<m {
                var k = UInt32(half * m + i)
                guard bpf_map_lookup_elem(maglevFD, &k, &values[i]) == 0 else {
                    throw SteeringError.from(errno: errno, "read \(directory)/maglev")
                }
            }
        }
        return PackedWorkerTable(words: values)
    }

    /// What the kernel does with a client: configuration + table, read from the maps.
    public func model() throws -> SteeringModel {
        let config = try configuration()
        return SteeringModel(configuration: config, packed: try packedTable(half: config.activeHalf))
    }

    /// The worker the kernel program picks for `client` now: the table's, or with bounded
    /// loads on, the one the loads send it to.
    public func worker(for client: ClientAddress) throws -> Int {
        let model = try model()
        guard let worker = model.worker(for: client) else {
            throw SteeringError.system(operation: "look up \(client)", errno: ENOENT, detail: "the live table has no worker in that slot")
        }
        guard let balance = model.configuration.balance else { return worker }
        return balance.decide(maglevWorker: worker, loads: try loads(), configuration: model.configuration).worker
    }

    /// Counters summed over CPUs.
    public func counters() throws -> SteeringCounters {
        let cpus = Int(libbpf_num_possible_cpus())
        guard cpus > 0 else { throw SteeringError.system(operation: "count CPUs", errno: Int32(-cpus), detail: "") }
        // `stats`, the dashboard and every scrape read these.
        return try countersByBatch(cpus: cpus) ?? countersOneByOne(cpus: cpus)
    }

    /// The counters in one system call; nil where the kernel has no batch lookup (before 5.6).
    func countersByBatch(cpus: Int) -> SteeringCounters? {
        let count = Int(ES_CNT_COUNT)
        var keys = [UInt32](repeating: 0, count: count)
        var values = [UInt64](repeating: 0, count: count * cpus)
        var read = UInt32(count)
        guard es_map_lookup_batch(countersFD, &keys, &values, &read) == 0,
              keys.enumerated().allSatisfy({ $0.element == UInt32($0.offset) })
        else { return nil }
        return SteeringCounters(raw: (0..<count).map { i in values[i * cpus..<(i + 1) * cpus].reduce(0, &+) })
    }

    /// The counters read one key at a time: kernels before 5.6 have no batch lookup.
    func countersOneByOne(cpus: Int) throws -> SteeringCounters {
        var raw = [UInt64](repeating: 0, count: Int(ES_CNT_COUNT))
        var perCPU = [UInt64](repeating: 0, count: cpus)
        for i in 0..<Int(ES_CNT_COUNT) {
            var key = UInt32(i)
            guard bpf_map_lookup_elem(countersFD, &key, &perCPU) == 0 else {
                throw SteeringError.from(errno: errno, "read \(directory)/counters")
            }
            raw[i] = perCPU.reduce(0, &+)
        }
        return SteeringCounters(raw: raw)
    }

    /// Sockarray slots that hold a listening socket now.
    public func filledSlots() -> [Int] {
        var filled: [Int] = []
        for slot in 0..<Int(ES_WORKER_SLOTS) {
            var key = UInt32(slot)
            var cookie: UInt64 = 0
            if bpf_map_lookup_elem(workersFD, &key, &cookie) == 0 { filled.append(slot) }
        }
        return filled
    }

    /// Registered listener groups, by base slot.
    public func groups() -> [ListenerGroupInfo] {
        var result: [ListenerGroupInfo] = []
        var key = es_group_key()
        var next = es_group_key()
        var havePrevious = false
        while true {
            let rc = havePrevious ? bpf_map_get_next_key(groupsFD, &key, &next) : bpf_map_get_next_key(groupsFD, nil, &next)
            guard rc == 0 else { break }
            var base: UInt32 = 0
            if bpf_map_lookup_elem(groupsFD, &next, &base) == 0 {
                result.append(ListenerGroupInfo(address: Self.text(of: next), port: Int(next.port), base: Int(base)))
            }
            key = next
            havePrevious = true
        }
        return result.sorted { $0.base < $1.base }
    }

    /// The pinned program's kernel status.
    public func programStatus() throws -> ProgramStatus {
        let path = directory + "/" + Self.programPin
        var status = ProgramStatus(
            pinPath: directory, loaded: false, id: 0, name: "", migrates: false, runCount: 0,
            runTimeNanoseconds: 0, statsEnabled: Self.statsSysctlEnabled(), filledSlots: filledSlots(), groups: groups())
        let fd = bpf_obj_get(path)
        guard fd >= 0 else {
            if errno == ENOENT { return status }
            throw SteeringError.from(errno: errno, "open \(path)")
        }
        defer { _ = Glibc.close(fd) }
        var info = bpf_prog_info()
        let rc = es_prog_info(fd, &info)
        guard rc == 0 else { throw SteeringError.from(errno: -rc, "read \(path)") }
        status.loaded = true
        status.id = info.id
        status.name = withUnsafeBytes(of: info.name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        status.migrates = status.name.hasSuffix("migrate")
        status.runCount = info.run_cnt
        status.runTimeNanoseconds = info.run_time_ns
        if info.run_time_ns > 0 { status.statsEnabled = true }
        return status
    }

    // MARK: Changing

    /// Runs a read-modify-write of `cfg` under an exclusive lock of the instance directory:
    /// the CLI (`maps drain`, `set-prefix`, `set-balance`) and a reloading server may change it at once,
    /// and the last writer would otherwise undo the other's change.
    func withConfigLock<T>(_ body: () throws -> T) throws -> T {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SteeringError.from(errno: errno, "open \(directory)") }
        defer { _ = Glibc.close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw SteeringError.from(errno: errno, "lock \(directory)") }
        }
        return try body()  // closing the descriptor releases the lock
    }

    /// Takes `worker` out of the table: only its clients move. Refuses the last undrained worker.
    public func drain(worker: Int) throws {
        try withConfigLock { try drainLocked(worker: worker) }
    }

    private func drainLocked(worker: Int) throws {
        var config = try configuration()
        guard (0..<config.workerCount).contains(worker) else {
            throw SteeringError.workerOutOfRange(worker: worker, workers: config.workerCount)
        }
        guard !config.drained.contains(worker) else { return }
        guard config.undrainedWorkers.count > 1 else { throw SteeringError.lastUndrainedWorker(worker: worker) }
        config.drained.insert(worker)
        try publishLocked(config)
    }

    /// Puts `worker` back: its old clients come back to it.
    public func undrain(worker: Int) throws {
        try withConfigLock { try undrainLocked(worker: worker) }
    }

    private func undrainLocked(worker: Int) throws {
        var config = try configuration()
        guard (0..<config.workerCount).contains(worker) else {
            throw SteeringError.workerOutOfRange(worker: worker, workers: config.workerCount)
        }
        guard config.drained.contains(worker) else { return }
        config.drained.remove(worker)
        try publishLocked(config)
    }

    /// Changes the affinity prefixes (nil keeps one); the next connections use them.
    public func setPrefix(ipv4: Int?, ipv6: Int?) throws {
        try withConfigLock { try setPrefixLocked(ipv4: ipv4, ipv6: ipv6) }
    }

    private func setPrefixLocked(ipv4: Int?, ipv6: Int?) throws {
        var raw = try rawConfig()
        if let v4 = ipv4 {
            guard (0...32).contains(v4) else { throw SteeringError.badPrefix(family: "IPv4", value: v4) }
            raw.v4_prefix = UInt32(v4)
        }
        if let v6 = ipv6 {
            guard (0...128).contains(v6) else { throw SteeringError.badPrefix(family: "IPv6", value: v6) }
            raw.v6_prefix = UInt32(v6)
        }
        raw.generation &+= 1
        try writeConfig(raw)
    }

    /// Writes the table for `config` into the inactive half, then flips to it and bumps the
    /// generation (the mask and seed of `config` are written too).
    public func publish(_ config: SteeringConfiguration) throws {
        try withConfigLock { try publishLocked(config) }
    }

    private func publishLocked(_ config: SteeringConfiguration) throws {
        let current = try rawConfig()
        let fresh = current.layout_version == 0
        let target = fresh ? 0 : Int((current.active & 1) ^ 1)
        try writeTable(config.table, half: target)
        var raw = es_config()
        raw.v4_prefix = UInt32(config.mask.ipv4Prefix)
        raw.v6_prefix = UInt32(config.mask.ipv6Prefix)
        raw.seed = config.seed
        raw.active = UInt32(target)
        raw.generation = fresh ? 1 : current.generation &+ 1
        raw.worker_count = UInt32(config.workerCount)
        raw.drained_mask = config.drainedMask
        raw.layout_version = UInt32(ES_LAYOUT_VERSION)
        raw.balance_milli = config.balance?.milli ?? 0
        raw.walk_step = UInt32(config.walkStep)
        try writeConfig(raw)
    }

    /// Turns bounded loads on with `balance`, or off with nil; the next connections use it.
    public func setBalance(_ balance: BoundedLoad?) throws {
        try withConfigLock {
            var raw = try rawConfig()
            raw.balance_milli = balance?.milli ?? 0
            raw.walk_step = UInt32(BoundedLoad.walkStep(seed: raw.seed, workers: Int(raw.worker_count)))
            raw.generation &+= 1
            try writeConfig(raw)
        }
    }

    func writeConfig(_ raw: es_config) throws {
        var key: UInt32 = 0
        var value = raw
        guard bpf_map_update_elem(cfgFD, &key, &value, UInt64(BPF_ANY)) == 0 else {
            throw SteeringError.from(errno: errno, "write \(directory)/cfg")
        }
    }

    func writeTable(_ table: MaglevTable, half: Int) throws {
        let m = PackedWorkerTable.wordCount
        var keys = (0..<m).map { UInt32(half * m + $0) }
        var values = PackedWorkerTable(table).words
        var count = UInt32(m)
        let rc = es_map_update_batch(maglevFD, &keys, &values, &count)
        if rc != 0 || count != UInt32(m) {
            // Batch unsupported: write element by element (still into the inactive half).
            for i in 0..<m {
                guard bpf_map_update_elem(maglevFD, &keys[i], &values[i], UInt64(BPF_ANY)) == 0 else {
                    throw SteeringError.from(errno: errno, "write \(directory)/maglev")
                }
            }
        }
    }

    /// Registers a listener group (idempotent) and returns its base slot: the group goes
    /// into `groups`, then its port into `port_groups` (the program's per-decision lookup).
    func register(group key: es_group_key) throws -> Int {
        var k = key
        var base: UInt32 = 0
        if bpf_map_lookup_elem(groupsFD, &k, &base) != 0 {
            let used = Set(groups().map(\.base))
            guard let free = (0..<SteeringConfigurationLimits.maxGroups).map({ $0 * SteeringConfigurationLimits.maxWorkers })
                .first(where: { !used.contains($0) })
            else { throw SteeringError.tooManyGroups(max: SteeringConfigurationLimits.maxGroups) }
            base = UInt32(free)
            guard bpf_map_update_elem(groupsFD, &k, &base, UInt64(BPF_NOEXIST)) == 0 else {
                throw SteeringError.from(errno: errno, "register listener group in \(directory)/groups")
            }
        }
        try updatePortEntry(port: Int(key.port))
        return Int(base)
    }

    /// Rewrites `port_groups[port]` from the groups registered on that port: base + 1 for
    /// one group, ES_PORT_SHARED for several (the program then looks the address up in
    /// `groups`), 0 for none.
    func updatePortEntry(port: Int) throws {
        let bases = groups().filter { $0.port == port }.map(\.base)
        var key = UInt32(port)
        var value: UInt32 = bases.count > 1 ? ES_PORT_SHARED : bases.first.map { UInt32($0 + 1) } ?? 0
        guard bpf_map_update_elem(portGroupsFD, &key, &value, UInt64(BPF_ANY)) == 0 else {
            throw SteeringError.from(errno: errno, "write \(directory)/port_groups")
        }
    }

    /// The `port_groups` entry of `port` (0: no group, base + 1, or ES_PORT_SHARED).
    func portEntry(port: Int) throws -> UInt32 {
        var key = UInt32(port)
        var value: UInt32 = 0
        guard bpf_map_lookup_elem(portGroupsFD, &key, &value) == 0 else {
            throw SteeringError.from(errno: errno, "read \(directory)/port_groups")
        }
        return value
    }

    /// Puts a listening socket in a sockarray slot.
    func place(socket fd: CInt, slot: Int) throws {
        var key = UInt32(slot)
        var value = UInt64(fd)
        guard bpf_map_update_elem(workersFD, &key, &value, UInt64(BPF_ANY)) == 0 else {
            throw SteeringError.from(errno: errno, "put socket \(fd) in \(directory)/workers slot \(slot)")
        }
    }

    // MARK: Removing

    /// Removes the pinned state of a stopped instance. Refuses while listening sockets are in
    /// its sockarray (the instance runs) unless `force`.
    public static func unload(instance: String, pinRoot: String = defaultPinRoot, force: Bool = false) throws {
        try validate(instance: instance)
        let directory = pinRoot + "/" + instance
        guard isBPFFS(pinRoot) || isBPFFS(parent(of: pinRoot)) else { throw SteeringError.bpffsMissing(path: pinRoot) }
        guard access(directory, F_OK) == 0 else { throw SteeringError.noSuchInstance(instance: instance, path: directory) }
        if !force, let maps = try? InstanceMaps(instance: instance, pinRoot: pinRoot) {
            let filled = maps.filledSlots()
            if !filled.isEmpty { throw SteeringError.instanceRunning(instance: instance, sockets: filled.count) }
        }
        try removePins(directory: directory)
    }

    static func removePins(directory: String) throws {
        for name in mapNames + [programPin] + SpliceProgram.pinNames {
            let path = directory + "/" + name
            if unlink(path) != 0 && errno != ENOENT { throw SteeringError.from(errno: errno, "remove \(path)") }
        }
        if rmdir(directory) != 0 && errno != ENOENT {
            throw SteeringError.from(errno: errno, "remove \(directory)", detail: "unexpected files left in it")
        }
    }

    // MARK: Helpers

    static func validate(instance: String) throws {
        let ok = !instance.isEmpty && instance.count <= 64 && instance != "." && instance != ".."
            && instance.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "._-".unicodeScalars.contains($0) }
        guard ok else { throw SteeringError.invalidInstanceName(instance) }
    }

    static func isBPFFS(_ path: String) -> Bool {
        es_is_bpffs(path) == 1
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    static func statsSysctlEnabled() -> Bool {
        guard let f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r") else { return false }
        defer { fclose(f) }
        return fgetc(f) == Int32(UInt8(ascii: "1"))
    }

    static func text(of key: es_group_key) -> String {
        let family = Int32(key.family)
        var bytes = withUnsafeBytes(of: key.addr) { Array($0) }
        if family == AF_INET { bytes = Array(bytes.prefix(4)) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every pinned map has the type, key and value sizes and entries of `BPF/es_maps.h` as this
    /// binary was built: what a generated skeleton would check at compile time, checked when
    /// another process (`maps`, `stats`, a second `serve`) opens the maps by their paths.
    static func checkShapes(instance: String, _ maps: [(String, CInt, bpf_map_type, UInt32, UInt32, UInt32)]) throws {
        for (name, fd, type, keySize, valueSize, entries) in maps {
            var info = bpf_map_info()
            guard es_map_info(fd, &info) == 0 else { continue }
            if info.type != type.rawValue || info.key_size != keySize || info.value_size != valueSize || info.max_entries != entries {
                throw SteeringError.layoutMismatch(
                    instance: instance,
                    detail: "\(name) is a map of type \(info.type) with \(info.max_entries) entries of key \(info.key_size) and value \(info.value_size) bytes, expected type \(type.rawValue), \(entries) entries, key \(keySize), value \(valueSize)")
            }
        }
    }

    /// Refuses pinned maps written with another layout (see ES_LAYOUT_VERSION).
    static func checkLayout(instance: String, cfgFD: CInt, maglevFD: CInt, workersFD: CInt) throws {
        var info = bpf_map_info()
        if es_map_info(cfgFD, &info) == 0, info.value_size != UInt32(MemoryLayout<es_config>.size) {
            throw SteeringError.layoutMismatch(instance: instance, detail: "cfg value size \(info.value_size), expected \(MemoryLayout<es_config>.size)")
        }
        var key: UInt32 = 0
        var value = es_config()
        if bpf_map_lookup_elem(cfgFD, &key, &value) == 0, value.layout_version != 0,
            value.layout_version != UInt32(ES_LAYOUT_VERSION)
        {
            throw SteeringError.layoutMismatch(instance: instance, detail: "layout version \(value.layout_version), this binary uses \(ES_LAYOUT_VERSION)")
        }
        if es_map_info(maglevFD, &info) == 0,
            info.max_entries != UInt32(ES_MAGLEV_ENTRIES) || info.value_size != UInt32(MemoryLayout<UInt64>.size)
        {
            throw SteeringError.layoutMismatch(
                instance: instance,
                detail: "maglev has \(info.max_entries) entries of \(info.value_size) bytes, expected \(ES_MAGLEV_ENTRIES) of 8")
        }
        if es_map_info(workersFD, &info) == 0, info.max_entries != UInt32(ES_WORKER_SLOTS) {
            throw SteeringError.layoutMismatch(instance: instance, detail: "workers has \(info.max_entries) slots, expected \(ES_WORKER_SLOTS)")
        }
    }
}
