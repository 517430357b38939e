#if canImport(Glibc)
import Glibc
#endif
import Affinity
import CEdgesplitBPF
@testable import Steering
import XCTest

/// Bounded loads in the real program: the test plays the workers (it accepts, keeps the
/// connections open and stores each worker's count in the `loads` map, as a serving
/// process does), and every decision the kernel takes must be the one `BoundedLoad` computes.
final class BoundedLoadKernelTests: XCTestCase {
    /// Accepts one connection from any of the group's listeners and keeps it open.
    private func acceptOne(_ group: ListenerGroup) throws -> (fd: CInt, worker: Int) {
        var pfds = group.descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard poll(&pfds, nfds_t(pfds.count), 3000) > 0 else { throw TestError("no connection accepted within 3 s") }
        for (worker, p) in pfds.enumerated() where p.revents & Int16(POLLIN) != 0 {
            let fd = accept(p.fd, nil, nil)
            if fd >= 0 { return (fd, worker) }
        }
        throw TestError("accept failed: errno \(errno)")
    }

    private func closeAll(_ fds: [CInt]) {
        for fd in fds {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            Glibc.close(fd)
        }
    }

    /// One source holds 400 connections over 4 workers with balance factor 1.25: no worker
    /// holds more than 1.25 × the mean + 1; meanwhile 100 other sources land on their Maglev
    /// worker whenever it is under the bound; the overflow counters count exactly the
    /// connections that left their Maglev worker; and with the factor off, the same source
    /// goes back to pure affinity.
    func testOneSourceSpreadsWithinTheBoundAndOthersKeepTheirWorkers() throws {
        try requireKernelPrivilege()
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4096 {
            limit.rlim_cur = min(4096, limit.rlim_max)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let f = try SteeringFixture(tag: "bounded", balance: BoundedLoad(factor: 1.25))
        var held: [CInt] = []
        defer {
            closeAll(held)
            f.close()
        }
        let group = try f.listen("127.0.0.1")
        let maps = try f.maps()
        let model = try maps.model()
        let config = model.configuration
        let balance = try XCTUnwrap(config.balance)
        XCTAssertEqual(balance.milli, 1250)
        var open = [UInt64](repeating: 0, count: 4)
        func record(_ worker: Int) {
            open[worker] += 1
            f.program.loads.store(worker: worker, active: Int(open[worker]))
        }

        let crowd = ClientAddress("127.0.0.5")!
        let home = try XCTUnwrap(model.worker(for: crowd))
        var expectedOverflows = [UInt64](repeating: 0, count: 4)
        for i in 0..<400 {
            let expected = balance.decide(maglevWorker: home, loads: open, configuration: config)
            held.append(try connectFrom("127.0.0.5", to: "127.0.0.1", port: group.port))
            let (fd, worker) = try acceptOne(group)
            held.append(fd)
            XCTAssertEqual(worker, expected.worker, "connection \(i) with loads \(open)")
            if expected.overflowed { expectedOverflows[home] += 1 }
            record(worker)
        }
        XCTAssertEqual(try maps.loads().prefix(4).map { $0 }, open, "the map holds what the workers stored")
        let mean = Double(open.reduce(0, +)) / 4
        XCTAssertLessThanOrEqual(Double(open.max()!), 1.25 * mean + 1, "loads \(open)")
        XCTAssertGreaterThan(open.filter { $0 > 0 }.count, 1, "the crowd spread: \(open)")

        // 100 other sources, one short connection each (closed before the next, so the loads
        // stay those of the crowd): each lands where the model says, and on its own Maglev
        // worker whenever that one is under the bound.
        var stayed = 0
        for i in 1...100 {
            let source = "127.0.1.\(i)"
            let maglev = try XCTUnwrap(model.worker(for: ClientAddress(source)!))
            let expected = balance.decide(maglevWorker: maglev, loads: open, configuration: config)
            let client = try connectFrom(source, to: "127.0.0.1", port: group.port)
            let (fd, worker) = try acceptOne(group)
            closeAll([client, fd])
            XCTAssertEqual(worker, expected.worker, "\(source), Maglev worker \(maglev), loads \(open)")
            if !expected.overflowed {
                XCTAssertEqual(worker, maglev, source)
                stayed += 1
            } else {
                expectedOverflows[maglev] += 1
            }
        }
        XCTAssertGreaterThan(stayed, 0, "some of 100 sources have a Maglev worker under the bound")
        let counters = try maps.counters()
        XCTAssertEqual(Array(counters.overflowed.prefix(4)), expectedOverflows)
        XCTAssertEqual(counters.fallback, 0)

        // Factor off: pure affinity again, whatever the loads.
        try maps.setBalance(nil)
        XCTAssertNil(try maps.configuration().balance)
        for _ in 0..<20 {
            let client = try connectFrom("127.0.0.5", to: "127.0.0.1", port: group.port)
            let (fd, worker) = try acceptOne(group)
            closeAll([client, fd])
            XCTAssertEqual(worker, home)
        }
        XCTAssertEqual(Array(try maps.counters().overflowed.prefix(4)), expectedOverflows, "no overflow with the factor off")
    }

    /// Rows belong to processes: a second program on the instance (a hitless restart) claims
    /// another row and both count; a row whose owner died is cleared and freed by the next
    /// claim or by `reapDeadOwners`; a released row counts nothing.
    func testLoadRowsBelongToLiveProcesses() throws {
        try requireKernelPrivilege()
        let first = try SteeringFixture(tag: "rows", balance: BoundedLoad(factor: 2))
        defer {
            first.close()
            // The programs below pinned their own and were closed without unpinning: nothing
            // of the instance may stay behind.
            try? InstanceMaps.unload(instance: first.instance, force: true)
            XCTAssertEqual(access(InstanceMaps.defaultPinRoot + "/" + first.instance, F_OK), -1, "pins left behind")
        }
        let maps = try first.maps()
        let a = first.program.loads
        XCTAssertEqual(a.row, 0)
        XCTAssertTrue(WorkerLoads.isAlive(a.owner(row: 0)))
        a.store(worker: 1, active: 7)
        XCTAssertEqual(try maps.loads()[1], 7)

        // A process that was killed while it had connections: a stale row with a dead owner
        // (pid 0x3FFFFF, not a process here).
        let dead: UInt64 = (12345 << 22) | 0x3F_FFFF
        XCTAssertFalse(WorkerLoads.isAlive(dead))
        a.impersonate(row: 2, owner: dead, counts: [1: 1000, 3: 50])
        XCTAssertEqual(try maps.loads()[1], 1007, "the dead row still counts")

        // A second process on the instance claims a free row; the dead one is reaped.
        let b = try SteeringProgram(.init(instance: first.instance, mask: .host, seed: 0x5EED, workers: 4))
        XCTAssertEqual(b.loads.row, 1)
        XCTAssertEqual(a.owner(row: 2), 0, "the dead owner's row was freed")
        b.loads.store(worker: 1, active: 2)
        XCTAssertEqual(try maps.loads().prefix(4).map { $0 }, [0, 9, 0, 0], "both live processes count, the dead one not")

        // Two more claims fill the rows; a fifth process is refused with the reason.
        let c = try SteeringProgram(.init(instance: first.instance, mask: .host, seed: 0x5EED, workers: 4))
        let d = try SteeringProgram(.init(instance: first.instance, mask: .host, seed: 0x5EED, workers: 4))
        XCTAssertEqual(Set([a.row, b.loads.row, c.loads.row, d.loads.row]), [0, 1, 2, 3])
        XCTAssertThrowsError(try SteeringProgram(.init(instance: first.instance, mask: .host, seed: 0x5EED, workers: 4))) {
            XCTAssertTrue("\($0)".contains("rows belong to running edgesplit processes"), "\($0)")
        }
        c.close(unpin: false)
        d.close(unpin: false)

        // The older process exits: its row is released, the newer one's stays.
        first.program.close(unpin: false)
        XCTAssertEqual(try maps.loads().prefix(4).map { $0 }, [0, 2, 0, 0])
        b.close(unpin: true)
    }
}
