import Affinity
import XCTest

/// The pure model of the kernel's bounded loads: what `maps where` says and what the kernel
/// tests hold the program to.
final class BoundedLoadTests: XCTestCase {
    private let four = SteeringConfiguration(mask: .host, seed: 0x5EED, workerCount: 4, balance: BoundedLoad(factor: 1.25))

    func testFactorTextIsParsedToThousandthsAndBoundsAreEnforced() {
        XCTAssertEqual(BoundedLoad(text: "1.25")?.milli, 1250)
        XCTAssertEqual(BoundedLoad(text: "2")?.milli, 2000)
        XCTAssertEqual(BoundedLoad(text: "1.001")?.milli, 1001)
        XCTAssertEqual(BoundedLoad(text: "100")?.milli, 100_000)
        XCTAssertEqual(BoundedLoad(text: "1.25")?.text, "1.25")
        XCTAssertEqual(BoundedLoad(text: "3.5")?.text, "3.5")
        XCTAssertEqual(BoundedLoad(text: "1.050")?.text, "1.05")
        XCTAssertEqual(BoundedLoad(text: "2")?.text, "2")
        for bad in ["", "0.99", "0", "100.001", "101", "1.2345", "1.", ".5", "-1.5", "1e2", "1,5", "nan", "１.５", " 1.5"] {
            XCTAssertNil(BoundedLoad(text: bad), bad)
        }
        XCTAssertNil(BoundedLoad(factor: .nan))
        XCTAssertNil(BoundedLoad(factor: 0.5))
        XCTAssertNil(BoundedLoad(milli: 0))
    }

    func testWalkStepIsCoprimeWithTheWorkerCountAndVisitsEveryWorker() {
        for workers in 1...64 {
            for seed: UInt32 in [0, 1, 7, 0x5EED, 0xFFFF_FFFF] {
                let step = BoundedLoad.walkStep(seed: seed, workers: workers)
                XCTAssertTrue((1..<max(workers, 2)).contains(step), "step \(step) for \(workers)")
                var seen = Set<Int>()
                var c = 0
                for _ in 0..<workers {
                    seen.insert(c)
                    c = (c + step) % workers
                }
                XCTAssertEqual(seen.count, workers, "step \(step) for \(workers) workers does not visit all")
            }
        }
    }

    func testUnderTheBoundTheMaglevWorkerKeepsItsClient() {
        let balance = four.balance!
        // T = 10, n = 4: a worker may take one more while L < 1.25 × 11 / 4 = 3.4375.
        let d = balance.decide(maglevWorker: 1, loads: [3, 3, 2, 2], configuration: four)
        XCTAssertEqual(d, BoundedLoad.Decision(worker: 1, overflowed: false, bound: 3.4375))
        let full = balance.decide(maglevWorker: 1, loads: [2, 4, 2, 2], configuration: four)
        XCTAssertTrue(full.overflowed)
        XCTAssertNotEqual(full.worker, 1)
        XCTAssertLessThan(Double([2, 4, 2, 2][full.worker]), full.bound)
    }

    func testTheWalkSkipsDrainedAndFullWorkersInStepOrder() {
        var config = four
        config.drained = [2]
        let step = config.walkStep
        // Worker 0 full; the walk is 0+step, 0+2·step, … skipping 2 (drained).
        let loads: [UInt64] = [9, 0, 0, 0]
        let d = config.balance!.decide(maglevWorker: 0, loads: loads, configuration: config)
        var expected = 0
        repeat { expected = (expected + step) % 4 } while expected == 2
        XCTAssertEqual(d.worker, expected)
        XCTAssertTrue(d.overflowed)
        // A drained worker's open connections do not count toward the mean.
        let withDrainedLoad = config.balance!.decide(maglevWorker: 1, loads: [1, 1, 500, 1], configuration: config)
        XCTAssertEqual(withDrainedLoad.bound, 1.25 * 4 / 3, accuracy: 1e-9)
    }

    /// One source opening connection after connection: whatever the factor and the worker
    /// count, no worker ever holds more than factor × mean + 1, and a free worker is always
    /// found (the kernel's fallback to the Maglev worker never triggers).
    func testACrowdNeverPushesAWorkerPastTheBound() {
        for workers in [2, 3, 4, 7, 16] {
            for text in ["1", "1.01", "1.25", "2", "10"] {
                let config = SteeringConfiguration(mask: .host, seed: 42, workerCount: workers, balance: BoundedLoad(text: text))
                var loads = [UInt64](repeating: 0, count: workers)
                for _ in 0..<(workers * 50) {
                    let d = config.balance!.decide(maglevWorker: 0, loads: loads, configuration: config)
                    XCTAssertLessThan(Double(loads[d.worker]), d.bound, "\(workers) workers, factor \(text)")
                    loads[d.worker] += 1
                    let mean = Double(loads.reduce(0, +)) / Double(workers)
                    XCTAssertLessThanOrEqual(Double(loads.max()!), config.balance!.factor * mean + 1, "\(workers) workers, factor \(text): \(loads)")
                }
            }
        }
    }
}
