#if canImport(Glibc)
import Glibc
#endif
import Affinity
import CEdgesplitBPF

/// One serving process's row of the `loads` map, mapped into its memory: each worker stores
/// its count of open connections there on every accept and close, and the steering program
/// reads it for bounded loads (BPF/steer.bpf.c, `es_bounded`).
///
/// Why a memory map and stored counts: a store is a few nanoseconds and no system call, and
/// each entry has one writer (its worker's thread), so no atomic read-modify-write is needed
/// and a count is always exact (a process that crashes leaves its row behind; the next
/// process to take that row clears it). The program keeps no count of its own: one it
/// incremented on SYN would never come down for a handshake that does not complete.
public final class WorkerLoads: @unchecked Sendable {
    /// The row this process writes (0 or 1).
    public let row: Int
    private let region: UnsafeMutableRawPointer
    private let length: Int

    init(mapFD: CInt, row: Int, path: String) throws {
        precondition(row >= 0 && row < Int(ES_LOAD_ROWS))
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = MemoryLayout<es_loads>.stride
        length = (bytes + page - 1) / page * page
        guard let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, mapFD, 0), mapped != MAP_FAILED else {
            throw SteeringError.from(errno: errno, "map \(path) into memory")
        }
        region = mapped
        self.row = row
    }

    deinit { munmap(region, length) }

    /// Sets `worker`'s count of open connections. Call it on that worker's thread only.
    public func store(worker: Int, active: Int) {
        guard worker >= 0 && worker < SteeringConfiguration.maxWorkers else { return }
        let offset = (row * SteeringConfiguration.maxWorkers + worker) * MemoryLayout<UInt64>.stride
        es_store_u64_relaxed(region + offset, UInt64(max(active, 0)))
    }

    /// Zeroes this row (a new owner, or the last connection of an exiting process).
    func clear() { clear(row: row) }

    /// Zeroes `row` (a new instance: counts a crashed process left behind).
    func clear(row r: Int) {
        for w in 0..<SteeringConfiguration.maxWorkers {
            es_store_u64_relaxed(region + (r * SteeringConfiguration.maxWorkers + w) * MemoryLayout<UInt64>.stride, 0)
        }
    }
}
