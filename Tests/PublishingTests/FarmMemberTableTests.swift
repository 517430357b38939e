import Affinity
import Publishing
import XCTest

final class FarmMemberTableTests: XCTestCase {
    let farm = Farm(
        name: "pool",
        members: ["fe1:4443", "fe2:4443", "fe3:4443"].map { FarmMember(host: String($0.prefix(3)), port: 4443, text: $0, position: SourcePosition(file: "t", line: 1, column: 1)) },
        position: SourcePosition(file: "t", line: 1, column: 1))

    func testMemberIDIsFNV1aOfTheText() {
        XCTAssertEqual(FarmMemberTable.memberID(""), 0x811c_9dc5)
        XCTAssertEqual(FarmMemberTable.memberID("a"), 0xe40c_292c)
    }

    func testChoiceIsMaglevOverAvailableMemberIDs() {
        let table = FarmMemberTable(farm: farm, mask: .host, seed: 7)
        let maglev = MaglevTable(members: farm.members.map { MaglevMember(id: FarmMemberTable.memberID($0.text)) }, size: MaglevTable.farmTableSize)
        for last in 0..<50 {
            let client = ClientAddress("198.51.100.\(last)")!
            let id = maglev.member(forHash: AffinityHash.hash(client, mask: .host, seed: 7))
            XCTAssertEqual(table.member(for: client), farm.members.firstIndex { FarmMemberTable.memberID($0.text) == id })
        }
    }

    func testAMemberDownMovesOnlyItsClients() {
        let all = FarmMemberTable(farm: farm, mask: .host, seed: 0)
        let without2 = FarmMemberTable(farm: farm, available: [true, true, false], mask: .host, seed: 0)
        for last in 0..<200 {
            let client = ClientAddress("203.0.113.\(last)")!
            let before = all.member(for: client)!
            let after = without2.member(for: client)!
            XCTAssertNotEqual(after, 2)
            if before != 2 { XCTAssertEqual(before, after) }
        }
        XCTAssertNil(FarmMemberTable(farm: farm, available: [false, false, false], mask: .host, seed: 0).member(for: ClientAddress("127.0.0.1")!))
    }
}
