import Affinity
import CEdgesplitBPF
import XCTest

final class MaglevTableTests: XCTestCase {
    private func table(_ ids: [UInt32]) -> MaglevTable {
        MaglevTable(members: ids.map { MaglevMember(id: $0, weight: 1) })
    }

    func testConstantsEqualTheBPFHeader() {
        XCTAssertEqual(MaglevTable.size, Int(ES_MAGLEV_M))
        XCTAssertEqual(PackedWorkerTable.slotsPerWord, Int(ES_MAGLEV_PER_WORD))
        XCTAssertEqual(PackedWorkerTable.wordCount, Int(ES_MAGLEV_WORDS))
        XCTAssertEqual(PackedWorkerTable.wordCount * 2, Int(ES_MAGLEV_ENTRIES))
        XCTAssertEqual(PackedWorkerTable.wordCount * PackedWorkerTable.slotsPerWord - MaglevTable.size, 7)
        XCTAssertEqual(PackedWorkerTable.empty, UInt8(ES_MAGLEV_EMPTY))
        XCTAssertGreaterThanOrEqual(Int(PackedWorkerTable.empty), SteeringConfiguration.maxWorkers)
        XCTAssertEqual(MaglevTable.offsetSeed, ES_MAGLEV_SEED_OFFSET)
        XCTAssertEqual(MaglevTable.skipSeed, ES_MAGLEV_SEED_SKIP)
        XCTAssertEqual(SteeringConfiguration.maxWorkers, Int(ES_MAX_WORKERS))
        XCTAssertGreaterThanOrEqual(MaglevTable.size, 100 * SteeringConfiguration.maxWorkers)
    }

    func testPermutationIsFromTheIdAlone() {
        for id: UInt32 in [0, 1, 2, 63, 1000, .max - 1] {
            var w = [id, 0, 0, 0]
            let p = MaglevTable.permutation(of: id)
            XCTAssertEqual(p.offset, Int(es_murmur_words(&w, 1, ES_MAGLEV_SEED_OFFSET) % UInt32(ES_MAGLEV_M)))
            XCTAssertEqual(p.skip, Int(es_murmur_words(&w, 1, ES_MAGLEV_SEED_SKIP) % UInt32(ES_MAGLEV_M - 1) + 1))
            XCTAssertTrue((1..<MaglevTable.size).contains(p.skip))
        }
    }

    func testEmptyAndSingleMember() {
        let empty = MaglevTable(members: [])
        XCTAssertEqual(empty.entries.count, MaglevTable.size)
        XCTAssertTrue(empty.entries.allSatisfy { $0 == MaglevTable.noMember })
        XCTAssertEqual(empty.member(forHash: 12345), MaglevTable.noMember)
        let one = table([7])
        XCTAssertEqual(one.share(of: 7), MaglevTable.size)
        XCTAssertEqual(MaglevTable(members: [MaglevMember(id: 3, weight: 0)]), empty)
    }

    func testDeterministicAndOrderIndependent() {
        let a = table([0, 1, 2, 3])
        XCTAssertEqual(a, table([3, 1, 0, 2]))
        XCTAssertEqual(a.entries, table([0, 1, 2, 3]).entries)
        // Duplicates keep the first entry.
        XCTAssertEqual(MaglevTable(members: [.init(id: 1), .init(id: 0), .init(id: 1, weight: 5)]).entries, table([0, 1]).entries)
        XCTAssertEqual(a.member(forHash: 0), a.entries[0])
        XCTAssertEqual(a.member(forHash: UInt32(MaglevTable.size) + 5), a.entries[5])
    }

    /// Equal weights: shares differ by at most one slot, for every worker count up to 64.
    func testBalanceForEveryWorkerCount() {
        for n in [1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 32, 63, 64] {
            let t = table((0..<UInt32(n)).map { $0 })
            let shares = t.shares
            XCTAssertEqual(shares.count, n)
            XCTAssertEqual(shares.values.reduce(0, +), MaglevTable.size)
            XCTAssertLessThanOrEqual(shares.values.max()! - shares.values.min()!, 1, "n=\(n)")
        }
    }

    func testWeights() {
        let t = MaglevTable(members: [.init(id: 0, weight: 1), .init(id: 1, weight: 2), .init(id: 2, weight: 1)])
        let s0 = Double(t.share(of: 0)), s1 = Double(t.share(of: 1)), s2 = Double(t.share(of: 2))
        XCTAssertEqual(s1 / s0, 2.0, accuracy: 0.01)
        XCTAssertEqual(s0, s2, accuracy: 2)
        XCTAssertEqual(Int(s0 + s1 + s2), MaglevTable.size)
    }

    /// Removing one member moves its slots plus a tiny collateral; adding it back restores
    /// the old table exactly.
    func testMinimalDisruption() {
        for n: UInt32 in [4, 8, 32] {
            let all = (0..<n).map { $0 }
            let full = table(all)
            for removed in [0, n / 2, n - 1] {
                let less = table(all.filter { $0 != removed })
                var moved = 0
                var collateral = 0
                for i in 0..<MaglevTable.size where full.entries[i] != less.entries[i] {
                    moved += 1
                    if full.entries[i] != removed { collateral += 1 }
                }
                XCTAssertEqual(less.share(of: removed), 0)
                XCTAssertGreaterThanOrEqual(moved, full.share(of: removed))
                XCTAssertLessThan(Double(collateral) / Double(MaglevTable.size), 0.01, "n=\(n) removed \(removed)")
                XCTAssertEqual(table(all.filter { $0 != removed } + [removed]), full)
            }
        }
    }

    func testRoundTripFromEntries() {
        let t = table([0, 2, 5])
        let back = MaglevTable(entries: t.entries)
        XCTAssertEqual(back.entries, t.entries)
        XCTAssertEqual(back.members.map(\.id), [0, 2, 5])
    }
}
