#if canImport(Glibc)
import Glibc
#endif
import Affinity
import CEdgesplitBPF

/// The kernel half of edgesplit: the embedded SK_REUSEPORT program loaded for one instance,
/// its maps pinned under `<pinRoot>/<instance>/`, steering every listener group attached to
/// it by client affinity.
///
/// `init` mounts bpffs if needed, loads the program (the migrate flavour unless the kernel
/// refuses it), pins it as `steer`, and writes the configuration and a table of workers
/// 0..<workers. Without privilege or kernel support it throws a `SteeringError` that says
/// why; the caller then keeps plain reuseport listeners.
public final class SteeringProgram {
    public struct Options: Sendable {
        public var instance: String
        public var pinRoot: String
        public var mask: AffinityMask
        public var seed: UInt32
        public var workers: Int
        /// Keep kernel run-time statistics on while the program lives (ns per decision).
        public var collectRunStats: Bool
        /// Bounded loads (`affinity.balance_factor`); nil is pure affinity.
        public var balance: BoundedLoad?

        public init(
            instance: String = "edgesplit", pinRoot: String = InstanceMaps.defaultPinRoot,
            mask: AffinityMask = .host, seed: UInt32 = SteeringProgram.defaultSeed,
            workers: Int = SteeringProgram.defaultWorkerCount, collectRunStats: Bool = true,
            balance: BoundedLoad? = nil
        ) {
            self.instance = instance
            self.pinRoot = pinRoot
            self.mask = mask
            self.seed = seed
            self.workers = workers
            self.collectRunStats = collectRunStats
            self.balance = balance
        }
    }

    /// The seed every edge host uses unless configured otherwise (so farm persistence agrees).
    public static let defaultSeed: UInt32 = 0x6564_6765  // "edge"

    /// One worker per online CPU, at most 64.
    public static var defaultWorkerCount: Int {
        min(max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1), SteeringConfiguration.maxWorkers)
    }

    public let options: Options
    /// The instance's pinned maps (the same ones the CLI opens).
    public let maps: InstanceMaps
    /// True when the `sk_reuseport/migrate` program was loaded (affinity-keeping reloads).
    public let migrates: Bool
    /// This process's row of active connections per worker, which its workers keep current.
    public let loads: WorkerLoads
    public var pinDirectory: String { options.pinRoot + "/" + options.instance }

    private var object: OpaquePointer?
    private let programFD: CInt
    private var statsFD: CInt = -1
    private var closed = false

    public init(_ options: Options) throws {
        try InstanceMaps.validate(instance: options.instance)
        guard (1...SteeringConfiguration.maxWorkers).contains(options.workers) else {
            throw SteeringError.workerCount(options.workers)
        }
        self.options = options
        let directory = options.pinRoot + "/" + options.instance
        try Self.ensureBPFFS(options.pinRoot)
        let existed = access(directory, F_OK) == 0
        try Self.makeDirectories(directory)
        // Refuse pinned maps of another layout before libbpf tries to reuse them.
        if access(directory + "/cfg", F_OK) == 0 {
            _ = try InstanceMaps(instance: options.instance, pinRoot: options.pinRoot)
        }

        let loaded: (OpaquePointer, CInt, Bool)
        do {
            loaded = try Self.loadPreferringMigrate(pinDirectory: directory, instance: options.instance)
        } catch {
            // Leave nothing behind for an instance this call created.
            if !existed { try? InstanceMaps.removePins(directory: directory) }
            throw error
        }
        (object, programFD, migrates) = loaded

        do {
            let pin = directory + "/" + InstanceMaps.programPin
            _ = unlink(pin)  // a previous process's program: the new one replaces it
            guard bpf_obj_pin(programFD, pin) == 0 else { throw SteeringError.from(errno: errno, "pin \(pin)") }
            maps = try InstanceMaps(instance: options.instance, pinRoot: options.pinRoot)
            // This process's row of open connections: a free one, or a dead process's.
            loads = try WorkerLoads(mapFD: maps.loadsFD, path: directory + "/loads")
            loads.reapDeadOwners()
            try maps.publish(SteeringConfiguration(
                mask: options.mask, seed: options.seed, workerCount: options.workers, balance: options.balance))
        } catch {
            bpf_object__close(object)
            throw error
        }
        if options.collectRunStats {
            statsFD = bpf_enable_stats(BPF_STATS_RUN_TIME)  // best effort: status then shows no timing
        }
    }

    deinit { close(unpin: false) }

    /// Registers `group`, puts its sockets in their slots (`base + worker`) and attaches the
    /// program to the group with SO_ATTACH_REUSEPORT_EBPF.
    public func attach(_ group: ListenerGroup) throws {
        guard group.descriptors.count == options.workers else {
            throw SteeringError.groupWorkerMismatch(group: group.descriptors.count, program: options.workers)
        }
        let base = try maps.register(group: group.groupKey)
        for (worker, fd) in group.descriptors.enumerated() {
            try maps.place(socket: fd, slot: base + worker)
        }
        var prog = programFD
        guard setsockopt(group.descriptors[0], SOL_SOCKET, es_so_attach_reuseport_ebpf, &prog, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
            throw SteeringError.from(errno: errno, "attach to \(ListenerGroup.format(group.address, group.port))")
        }
    }

    /// Counters summed over CPUs.
    public func counters() throws -> SteeringCounters { try maps.counters() }

    /// Releases the program. With `unpin`, removes the instance's pinned state too (clean
    /// exit) unless another process has taken the instance over since (a reload pins its own
    /// program): its maps stay in use. Without, the maps stay for a reloading process or the
    /// CLI. Idempotent.
    public func close(unpin: Bool) {
        guard !closed else { return }
        closed = true
        let remove = unpin && ownsPinnedProgram()
        loads.release()  // our connections no longer count
        if statsFD >= 0 { _ = Glibc.close(statsFD) }
        if let object { bpf_object__close(object) }
        object = nil
        if remove { try? InstanceMaps.removePins(directory: pinDirectory) }
    }

    /// True unless the instance's pinned program is another one than this.
    private func ownsPinnedProgram() -> Bool {
        let pinned = bpf_obj_get(pinDirectory + "/" + InstanceMaps.programPin)
        guard pinned >= 0 else { return true }
        defer { _ = Glibc.close(pinned) }
        var mine = bpf_prog_info()
        var current = bpf_prog_info()
        guard es_prog_info(programFD, &mine) == 0, es_prog_info(pinned, &current) == 0 else { return true }
        return mine.id == current.id
    }

    // MARK: Loading

    /// The migrate flavour keeps affinity across reloads; fall back to the select flavour
    /// only when the kernel refuses it (a refusal for lack of privilege is final).
    private static func loadPreferringMigrate(pinDirectory: String, instance: String) throws -> (OpaquePointer, CInt, Bool) {
        do {
            return try load(pinDirectory: pinDirectory, instance: instance, migrate: true)
        } catch let first as SteeringError {
            switch first {
            case .unsupported, .system:
                do {
                    return try load(pinDirectory: pinDirectory, instance: instance, migrate: false)
                } catch let second as SteeringError {
                    if case .unsupported(let reason) = second, case .unsupported(let migrateReason) = first {
                        throw SteeringError.unsupported(reason: "\(migrateReason); \(reason)")
                    }
                    throw second
                }
            default:
                throw first
            }
        }
    }

    private static func load(pinDirectory: String, instance: String, migrate: Bool) throws -> (OpaquePointer, CInt, Bool) {
        es_libbpf_capture()
        var err: Int32 = 0
        guard let object = es_open_embedded(pinDirectory, &err) else {
            throw SteeringError.from(errno: -err, "open the embedded BPF object", detail: lastMessage())
        }
        let wanted = migrate ? "steer_migrate" : "steer_select"
        let other = migrate ? "steer_select" : "steer_migrate"
        guard let program = bpf_object__find_program_by_name(object, wanted),
            let unused = bpf_object__find_program_by_name(object, other)
        else {
            bpf_object__close(object)
            throw SteeringError.system(operation: "open the embedded BPF object", errno: ENOENT, detail: "program \(wanted) missing")
        }
        bpf_program__set_autoload(unused, false)
        let rc = bpf_object__load(object)
        if rc != 0 {
            let message = lastMessage()
            bpf_object__close(object)
            let code = -rc
            if message.contains("couldn't reuse pinned map") || message.contains("parameter mismatch") {
                throw SteeringError.layoutMismatch(instance: instance, detail: "libbpf: couldn't reuse pinned maps")
            }
            if code == EPERM || code == EACCES { throw SteeringError.notPermitted(operation: "load the BPF steering program") }
            throw SteeringError.unsupported(reason: "loading \(wanted) failed: \(String(cString: strerror(code)))\(message.isEmpty ? "" : " (\(message))")")
        }
        let fd = bpf_program__fd(program)
        guard fd >= 0 else {
            bpf_object__close(object)
            throw SteeringError.system(operation: "load \(wanted)", errno: -fd, detail: "")
        }
        return (object, fd, migrate)
    }

    static func lastMessage() -> String {
        let text = String(cString: es_libbpf_messages())
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
        return lines.suffix(2).joined(separator: "; ")
    }

    static func ensureBPFFS(_ pinRoot: String) throws {
        if InstanceMaps.isBPFFS(pinRoot) { return }
        // Find the closest existing ancestor; it must be bpffs (or be mountable as /sys/fs/bpf).
        var path = pinRoot
        while access(path, F_OK) != 0 && path != "/" { path = InstanceMaps.parent(of: path) }
        if InstanceMaps.isBPFFS(path) { return }
        if pinRoot.hasPrefix("/sys/fs/bpf") {
            if mount("bpf", "/sys/fs/bpf", "bpf", 0, nil) == 0 { return }
            let e = errno
            if e == EPERM || e == EACCES { throw SteeringError.bpffsMissing(path: "/sys/fs/bpf (mounting it needs root)") }
        }
        throw SteeringError.bpffsMissing(path: pinRoot)
    }

    static func makeDirectories(_ path: String) throws {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw SteeringError.from(errno: errno, "create \(current)")
            }
        }
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
