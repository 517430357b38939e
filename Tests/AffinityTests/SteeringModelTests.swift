import Affinity
import XCTest

final class SteeringModelTests: XCTestCase {
    func testDrainedWorkersAreNeverChosenAndOthersStay() {
        let config = SteeringConfiguration(mask: .host, seed: 0x1234, workerCount: 4)
        let model = SteeringModel(configuration: config)
        var drainedConfig = config
        drainedConfig.drained = [2]
        let drained = SteeringModel(configuration: drainedConfig)
        var moved = 0
        for i in 0..<2000 {
            let client = ClientAddress("10.\(i / 250).\(i % 250).9")!
            let before = model.worker(for: client)!
            let after = drained.worker(for: client)!
            XCTAssertNotEqual(after, 2)
            if before != 2 {
                if before != after { moved += 1 }
            }
        }
        XCTAssertLessThan(moved, 20, "clients of undrained workers should stay")
        XCTAssertEqual(drainedConfig.drainedMask, 0b100)
        XCTAssertEqual(SteeringConfiguration.workers(inMask: 0b100), [2])
        XCTAssertEqual(drainedConfig.undrainedWorkers, [0, 1, 3])
    }

    func testPrefixKeepsANetworkTogether() {
        let config = SteeringConfiguration(mask: AffinityMask(ipv4Prefix: 24, ipv6Prefix: 64)!, seed: 99, workerCount: 8)
        let model = SteeringModel(configuration: config)
        let w = model.worker(for: ClientAddress("192.0.2.1")!)
        for h in 0...255 { XCTAssertEqual(model.worker(for: ClientAddress("192.0.2.\(h)")!), w) }
        let w6 = model.worker(for: ClientAddress("2001:db8:5::1")!)
        for h in 0..<200 { XCTAssertEqual(model.worker(for: ClientAddress("2001:db8:5::\(String(h * 331 % 0xffff, radix: 16)):1")!), w6) }
    }

    func testBalanceOverClients() {
        let model = SteeringModel(configuration: SteeringConfiguration(mask: .host, seed: 5, workerCount: 4))
        var counts = [Int](repeating: 0, count: 4)
        for i in 0..<4000 { counts[model.worker(for: ClientAddress("172.16.\(i / 256).\(i % 256)")!)!] += 1 }
        for c in counts { XCTAssertEqual(Double(c) / 4000, 0.25, accuracy: 0.03) }
    }
}
