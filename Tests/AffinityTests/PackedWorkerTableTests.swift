import Affinity
import XCTest

final class PackedWorkerTableTests: XCTestCase {
    private func table(_ ids: [UInt32]) -> MaglevTable {
        MaglevTable(members: ids.map { MaglevMember(id: $0, weight: 1) }, size: PackedWorkerTable.slotCount)
    }

    /// Slot s is byte s % 8 (little end first) of word s / 8, the way the BPF program reads it.
    func testByteLayoutIsTheKernels() {
        let t = table([0, 1, 2, 3, 63])
        let packed = PackedWorkerTable(t)
        XCTAssertEqual(packed.words.count, 803)
        for slot in [0, 1, 7, 8, 9, 4095, 6415, 6416, 6419, 6420] {
            let word = packed.words[slot / 8]
            XCTAssertEqual(UInt32((word >> UInt64(8 * (slot % 8))) & 0xFF), t.entries[slot], "slot \(slot)")
            XCTAssertEqual(UInt32(packed.byte(atSlot: slot)), t.entries[slot], "slot \(slot)")
        }
        // The last word holds slots 6416...6420; its other three bytes are empty.
        XCTAssertEqual(packed.words[802] >> 40, 0xFF_FFFF)
    }

    func testRoundTripAndEmptySlots() {
        for ids: [UInt32] in [[0], [0, 1, 2, 3], Array(0..<64), [5, 17, 40]] {
            let t = table(ids)
            let packed = PackedWorkerTable(t)
            XCTAssertEqual(packed.table, t)
            XCTAssertEqual(PackedWorkerTable(words: packed.words), packed)
        }
        let empty = PackedWorkerTable(table([]))
        XCTAssertTrue(empty.words.allSatisfy { $0 == .max })
        XCTAssertEqual(empty.table, table([]))
    }

    /// The model reads the packed form; it must agree with the unpacked table everywhere.
    func testModelAgreesWithTheUnpackedTable() {
        let config = SteeringConfiguration(mask: .host, seed: 0xC0FFEE, workerCount: 6, drained: [4])
        let model = SteeringModel(configuration: config)
        let t = config.table
        XCTAssertEqual(t, table(config.members.map(\.id)))
        XCTAssertEqual(model.table, t)
        for i in 0..<3000 {
            let client = ClientAddress("10.\(i / 256 % 256).\(i % 256).1")!
            let slot = Int(model.hash(of: client) % UInt32(PackedWorkerTable.slotCount))
            XCTAssertEqual(model.slot(of: client), slot)
            XCTAssertEqual(model.worker(for: client), Int(t.entries[slot]))
        }
        var none = model
        none.table = table([])
        XCTAssertNil(none.worker(for: ClientAddress("10.0.0.1")!))
        XCTAssertEqual(none.packed, PackedWorkerTable(table([])))
    }
}
