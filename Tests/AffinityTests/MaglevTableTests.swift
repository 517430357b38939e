import Affinity
import CEdgesplitBPF
import XCTest

final class MaglevTableTests: XCTestCase {
    /// Both sizes in use: the kernel's worker table and a farm's member table.
    private let sizes = [MaglevTable.workerTableSize, MaglevTable.farmTableSize]

    private func table(_ ids: [UInt32], size: Int = MaglevTable.workerTableSize) -> MaglevTable {
        MaglevTable(members: ids.map { MaglevMember(id: $0, weight: 1) }, size: size)
    }

    func testConstantsEqualTheBPFHeader() {
        XCTAssertEqual(MaglevTable.workerTableSize, Int(ES_MAGLEV_M))
        XCTAssertEqual(PackedWorkerTable.slotCount, Int(ES_MAGLEV_M))
        XCTAssertEqual(PackedWorkerTable.slotsPerWord, Int(ES_MAGLEV_PER_WORD))
        XCTAssertEqual(PackedWorkerTable.wordCount, Int(ES_MAGLEV_WORDS))
        XCTAssertEqual(PackedWorkerTable.wordCount * 2, Int(ES_MAGLEV_ENTRIES))
        XCTAssertEqual(PackedWorkerTable.wordCount * PackedWorkerTable.slotsPerWord - PackedWorkerTable.slotCount, 3)
        XCTAssertEqual(PackedWorkerTable.empty, UInt8(ES_MAGLEV_EMPTY))
        XCTAssertGreaterThanOrEqual(Int(PackedWorkerTable.empty), SteeringConfiguration.maxWorkers)
        XCTAssertEqual(MaglevTable.offsetSeed, ES_MAGLEV_SEED_OFFSET)
        XCTAssertEqual(MaglevTable.skipSeed, ES_MAGLEV_SEED_SKIP)
        XCTAssertEqual(SteeringConfiguration.maxWorkers, Int(ES_MAX_WORKERS))
        XCTAssertGreaterThanOrEqual(MaglevTable.workerTableSize, 100 * SteeringConfiguration.maxWorkers)
        // The smallest such prime, and both sizes prime (Maglev needs M prime).
        let least = 100 * SteeringConfiguration.maxWorkers
        XCTAssertEqual((least...).first(where: isPrime), MaglevTable.workerTableSize)
        XCTAssertTrue(sizes.allSatisfy(isPrime))
    }

    private func isPrime(_ n: Int) -> Bool {
        guard n > 3 else { return n > 1 }
        return !(2...Int(Double(n).squareRoot())).contains { n % $0 == 0 }
    }

    func testPermutationIsFromTheIdAlone() {
        for size in sizes {
            for id: UInt32 in [0, 1, 2, 63, 1000, .max - 1] {
                var w = [id, 0, 0, 0]
                let p = MaglevTable.permutation(of: id, size: size)
                XCTAssertEqual(p.offset, Int(es_murmur_words(&w, 1, ES_MAGLEV_SEED_OFFSET) % UInt32(size)))
                XCTAssertEqual(p.skip, Int(es_murmur_words(&w, 1, ES_MAGLEV_SEED_SKIP) % UInt32(size - 1) + 1))
                XCTAssertTrue((1..<size).contains(p.skip))
            }
        }
    }

    func testEmptyAndSingleMember() {
        for size in sizes {
            let empty = table([], size: size)
            XCTAssertEqual(empty.entries.count, size)
            XCTAssertEqual(empty.size, size)
            XCTAssertTrue(empty.entries.allSatisfy { $0 == MaglevTable.noMember })
            XCTAssertEqual(empty.member(forHash: 12345), MaglevTable.noMember)
            let one = table([7], size: size)
            XCTAssertEqual(one.share(of: 7), size)
            XCTAssertEqual(MaglevTable(members: [MaglevMember(id: 3, weight: 0)], size: size), empty)
        }
    }

    func testDeterministicAndOrderIndependent() {
        let a = table([0, 1, 2, 3])
        XCTAssertEqual(a, table([3, 1, 0, 2]))
        XCTAssertEqual(a.entries, table([0, 1, 2, 3]).entries)
        // Duplicates keep the first entry.
        XCTAssertEqual(MaglevTable(members: [.init(id: 1), .init(id: 0), .init(id: 1, weight: 5)], size: a.size).entries, table([0, 1]).entries)
        XCTAssertEqual(a.member(forHash: 0), a.entries[0])
        XCTAssertEqual(a.member(forHash: UInt32(a.size) + 5), a.entries[5])
        XCTAssertNotEqual(table([0, 1, 2, 3], size: MaglevTable.farmTableSize).entries.prefix(a.size), a.entries[...])
    }

    /// Equal weights: shares differ by at most one slot, for every worker count up to 64.
    func testBalanceForEveryWorkerCount() {
        for size in sizes {
            for n in [1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 32, 63, 64] {
                let t = table((0..<UInt32(n)).map { $0 }, size: size)
                let shares = t.shares
                XCTAssertEqual(shares.count, n)
                XCTAssertEqual(shares.values.reduce(0, +), size)
                XCTAssertLessThanOrEqual(shares.values.max()! - shares.values.min()!, 1, "n=\(n) size \(size)")
            }
        }
    }

    func testWeights() {
        for size in sizes {
            let t = MaglevTable(members: [.init(id: 0, weight: 1), .init(id: 1, weight: 2), .init(id: 2, weight: 1)], size: size)
            let s0 = Double(t.share(of: 0)), s1 = Double(t.share(of: 1)), s2 = Double(t.share(of: 2))
            XCTAssertEqual(s1 / s0, 2.0, accuracy: 0.01)
            XCTAssertEqual(s0, s2, accuracy: 2)
            XCTAssertEqual(Int(s0 + s1 + s2), size)
        }
    }

    /// Removing one member moves its slots plus a tiny collateral; adding it back restores
    /// the old table exactly.
    func testMinimalDisruption() {
        for size in sizes {
            for n: UInt32 in [4, 8, 32, 64] {
                let all = (0..<n).map { $0 }
                let full = table(all, size: size)
                for removed in [0, n / 2, n - 1] {
                    let less = table(all.filter { $0 != removed }, size: size)
                    var moved = 0
                    var collateral = 0
                    for i in 0..<size where full.entries[i] != less.entries[i] {
                        moved += 1
                        if full.entries[i] != removed { collateral += 1 }
                    }
                    XCTAssertEqual(less.share(of: removed), 0)
                    XCTAssertGreaterThanOrEqual(moved, full.share(of: removed))
                    XCTAssertLessThan(Double(collateral) / Double(size), collateralBound(workers: n, size: size), "n=\(n) removed \(removed) size \(size)")
                    XCTAssertEqual(table(all.filter { $0 != removed } + [removed], size: size), full)
                }
            }
        }
    }

    /// The collateral Maglev allows grows with members / slots: under 0.6 % of the slots up to
    /// 64 members in a farm table (65537 slots); in the worker table (6421 slots, kept small
    /// for the kernel's cache) under 1 % up to 8 workers and 2.5 % at 64 (README, Kernel steering).
    private func collateralBound(workers n: UInt32, size: Int) -> Double {
        size == MaglevTable.farmTableSize ? 0.006 : (n <= 8 ? 0.01 : 0.025)
    }

    func testRoundTripFromEntries() {
        let t = table([0, 2, 5])
        let back = MaglevTable(entries: t.entries)
        XCTAssertEqual(back.entries, t.entries)
        XCTAssertEqual(back.members.map(\.id), [0, 2, 5])
    }
}
