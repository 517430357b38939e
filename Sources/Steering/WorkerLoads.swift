#if canImport(Glibc)
import Glibc
#endif
import Affinity
import CEdgesplitBPF

/// One serving process's row of the `loads` map, mapped into its memory: each worker stores
/// its count of open connections there on every accept and close, and the steering program
/// reads all rows for bounded loads (BPF/steer.bpf.c, `es_bounded`).
///
/// Why a memory map and stored counts: a store is a few nanoseconds and no system call, and
/// each entry has one writer (its worker's thread), so no atomic read-modify-write is needed
/// and a count is always exact. The program keeps no count of its own: one it incremented on
/// SYN would never come down for a handshake that does not complete.
///
/// Rows are owned: a process claims a free row, or one whose owner has died, with a
/// compare-and-swap of its stamp (start time and pid, so a reused pid is not mistaken for
/// the owner). During a hitless restart old and new process each write their own row; a
/// process that was killed leaves its row behind until `reapDeadOwners()` (the server calls
/// it every few seconds) or the next claim clears it.
public final class WorkerLoads: @unchecked Sendable {
    /// The row this process writes.
    public let row: Int
    private let region: UnsafeMutableRawPointer
    private let length: Int
    private let stamp: UInt64

    static let rows = Int(ES_LOAD_ROWS)
    static let workers = SteeringConfiguration.maxWorkers

    /// Maps the `loads` element of `mapFD` and claims a row for this process. Throws when
    /// every row belongs to a live process.
    init(mapFD: CInt, path: String, stamp: UInt64 = WorkerLoads.processStamp()) throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = MemoryLayout<es_loads>.stride
        length = (bytes + page - 1) / page * page
        guard let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, mapFD, 0), mapped != MAP_FAILED else {
            throw SteeringError.from(errno: errno, "map \(path) into memory")
        }
        region = mapped
        self.stamp = stamp
        var claimed: Int?
        for r in 0..<Self.rows {
            let owner = es_load_u64(Self.ownerCell(mapped, r))
            guard owner == 0 || !Self.isAlive(owner) else { continue }
            if es_cas_u64(Self.ownerCell(mapped, r), owner, stamp) != 0 {
                claimed = r
                break
            }
        }
        guard let claimed else {
            munmap(region, length)
            throw SteeringError.system(
                operation: "claim a row of \(path)", errno: EBUSY,
                detail: "all \(Self.rows) rows belong to running edgesplit processes of this instance")
        }
        row = claimed
        clear(row: claimed)
    }

    deinit { munmap(region, length) }

    /// Sets `worker`'s count of open connections. Call it on that worker's thread only.
    public func store(worker: Int, active: Int) {
        guard worker >= 0 && worker < Self.workers else { return }
        es_store_u64_relaxed(activeCell(row, worker), UInt64(max(active, 0)))
    }

    /// Gives the row back, zeroed: this process's connections no longer count.
    func release() {
        clear(row: row)
        _ = es_cas_u64(ownerCell(row), stamp, 0)
    }

    /// Clears and frees the rows of processes that died without giving theirs back.
    /// Returns how many.
    @discardableResult
    public func reapDeadOwners() -> Int {
        var reaped = 0
        for r in 0..<Self.rows where r != row {
            let owner = es_load_u64(ownerCell(r))
            guard owner != 0, !Self.isAlive(owner) else { continue }
            // Free it first, then clear: a process claiming it meanwhile clears it itself.
            if es_cas_u64(ownerCell(r), owner, 0) != 0 {
                clear(row: r)
                reaped += 1
            }
        }
        return reaped
    }

    /// The owner stamp of `r` (0: free). For tests and `maps show`.
    func owner(row r: Int) -> UInt64 { es_load_u64(ownerCell(r)) }

    /// Writes an owner stamp and counts into row `r` as another process would (tests).
    func impersonate(row r: Int, owner: UInt64, counts: [Int: UInt64]) {
        es_store_u64_relaxed(ownerCell(r), owner)
        for (w, v) in counts { es_store_u64_relaxed(activeCell(r, w), v) }
    }

    private func clear(row r: Int) {
        for w in 0..<Self.workers { es_store_u64_relaxed(activeCell(r, w), 0) }
    }

    private func ownerCell(_ r: Int) -> UnsafeMutableRawPointer { Self.ownerCell(region, r) }
    private func activeCell(_ r: Int, _ w: Int) -> UnsafeMutableRawPointer { Self.activeCell(region, r, w) }

    private static func ownerCell(_ region: UnsafeMutableRawPointer, _ r: Int) -> UnsafeMutableRawPointer {
        region + MemoryLayout<es_loads>.offset(of: \es_loads.owner)! + r * 8
    }

    private static func activeCell(_ region: UnsafeMutableRawPointer, _ r: Int, _ w: Int) -> UnsafeMutableRawPointer {
        region + MemoryLayout<es_loads>.offset(of: \es_loads.active)! + (r * workers + w) * 8
    }

    // MARK: Owners

    /// This process: (start time in clock ticks since boot << 22) | pid.
    static func processStamp() -> UInt64 { stamp(pid: getpid()) ?? UInt64(UInt32(getpid())) }

    static func stamp(pid: pid_t) -> UInt64? {
        startTime(pid: pid).map { ($0 << 22) | (UInt64(UInt32(pid)) & 0x3F_FFFF) }
    }

    /// True when the process of `stamp` still runs (same pid, same start time).
    static func isAlive(_ stamp: UInt64) -> Bool {
        let pid = pid_t(stamp & 0x3F_FFFF)
        guard pid > 0, let now = Self.stamp(pid: pid) else { return false }
        return now == stamp
    }

    /// Field 22 of /proc/PID/stat: the process's start time in clock ticks after boot.
    private static func startTime(pid: pid_t) -> UInt64? {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = fread(&buffer, 1, buffer.count, file)
        guard n > 0 else { return nil }
        // The command name (field 2) is in parentheses and may hold spaces: count after ')'.
        guard let close = buffer[0..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = buffer[(close + 1)..<n].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (state); field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }
}
