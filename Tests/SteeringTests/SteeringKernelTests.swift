#if canImport(Glibc)
import Glibc
#endif
import Affinity
import CEdgesplitBPF
@testable import Steering
import XCTest

/// Real kernel, real sockets, loopback only (127.0.0.0/8, ::1, and a namespace of the test's own).
final class SteeringKernelTests: XCTestCase {
    private func sources(_ prefix: String, _ range: ClosedRange<Int>) -> [String] { range.map { "\(prefix)\($0)" } }

    /// 4 workers; 100 sources connect 5 times each: one worker per source, and it is the
    /// worker `maps where` computes from the live maps.
    func testEverySourceSticksToThePredictedWorker() throws {
        try requireKernelPrivilege()
        let f = try SteeringFixture(tag: "stick")
        defer { f.close() }
        let group = try f.listen("127.0.0.1")
        let seen = try workersBySource(group, sources: sources("127.0.1.", 1...100), destination: "127.0.0.1", repetitions: 5)
        XCTAssertEqual(seen.count, 100)
        let maps = try f.maps()
        let live = try maps.model()  // what `maps where` computes, read once
        for (address, workers) in seen {
            XCTAssertEqual(workers.count, 1, "\(address) went to workers \(workers.sorted())")
            XCTAssertEqual(workers.first, live.worker(for: address), "\(address)")
        }
        XCTAssertEqual(try maps.worker(for: seen.keys.first!), live.worker(for: seen.keys.first!))
        let counters = try f.program.counters()
        XCTAssertEqual(counters.fallback, 0)
        XCTAssertEqual(counters.total, 500)
        XCTAssertEqual(counters.selections.reduce(0, +), 500)
        let status = try maps.programStatus()
        XCTAssertTrue(status.loaded)
        XCTAssertTrue(status.attached)
        XCTAssertEqual(status.filledSlots, [0, 1, 2, 3])
        XCTAssertEqual(status.groups, [ListenerGroupInfo(address: "127.0.0.1", port: group.port, base: 0)])
        XCTAssertEqual(status.migrates, f.program.migrates)
        XCTAssertGreaterThanOrEqual(status.runCount, 500)
    }

    /// 1000 sources over 4 workers: 25 % ± 5 % each.
    func testBalanceOverAThousandSources() throws {
        try requireKernelPrivilege()
        let f = try SteeringFixture(tag: "balance", seed: 0xBA1A)
        defer { f.close() }
        let group = try f.listen("127.0.0.1")
        let all = (0..<1000).map { "127.1.\($0 / 200).\($0 % 200 + 1)" }
        let seen = try workersBySource(group, sources: all, destination: "127.0.0.1")
        var counts = [Int](repeating: 0, count: 4)
        for (_, w) in seen { counts[w.first!] += 1 }
        for (w, c) in counts.enumerated() {
            XCTAssertEqual(Double(c) / 1000, 0.25, accuracy: 0.05, "worker \(w): \(counts)")
        }
    }

    /// Draining moves only the drained worker's clients; undraining brings every client back.
    func testDrainMovesOnlyThatWorkersClientsAndUndrainRestores() throws {
        try requireKernelPrivilege()
        let f = try SteeringFixture(tag: "drain")
        defer { f.close() }
        let group = try f.listen("127.0.0.1")
        let srcs = sources("127.0.3.", 1...200)
        let before = try workersBySource(group, sources: srcs, destination: "127.0.0.1").mapValues { $0.first! }
        let maps = try f.maps()
        let generation = try maps.configuration().generation
        try maps.drain(worker: 1)
        XCTAssertEqual(try maps.configuration().drained, [1])
        XCTAssertEqual(try maps.configuration().generation, generation + 1)
        XCTAssertEqual(try maps.table().share(of: 1), 0)
        let drained = try workersBySource(group, sources: srcs, destination: "127.0.0.1").mapValues { $0.first! }
        XCTAssertTrue(before.values.contains(1))
        // Maglev moves the drained worker's slots plus a tiny collateral (a fraction of a percent of the
        // slots for 4 workers): a client of another worker may move only if its slot is one
        // of those, which the tables before and after predict exactly.
        var undrainedModel = try maps.model()
        undrainedModel.table = SteeringConfiguration(mask: .host, seed: 0, workerCount: 4).table
        var collateral = 0
        let live = try maps.model()
        for (address, w) in before {
            let now = drained[address]!
            XCTAssertNotEqual(now, 1, "\(address) still on the drained worker")
            XCTAssertEqual(now, live.worker(for: address))
            XCTAssertEqual(w, undrainedModel.worker(for: address))
            if w != 1 && now != w { collateral += 1 }
        }
        XCTAssertLessThanOrEqual(collateral, 2, "clients of undrained workers moved: \(collateral)")
        try maps.undrain(worker: 1)
        let after = try workersBySource(group, sources: srcs, destination: "127.0.0.1").mapValues { $0.first! }
        XCTAssertEqual(after, before)

        XCTAssertThrowsError(try maps.drain(worker: 4)) { XCTAssertEqual($0 as? SteeringError, .workerOutOfRange(worker: 4, workers: 4)) }
        try maps.drain(worker: 0)
        try maps.drain(worker: 1)
        try maps.drain(worker: 2)
        XCTAssertThrowsError(try maps.drain(worker: 3)) { XCTAssertEqual($0 as? SteeringError, .lastUndrainedWorker(worker: 3)) }
    }

    /// /24: every host of 127.0.2.0/24 lands on one worker (and the predicted one).
    func testIPv4PrefixKeepsTheNetworkTogether() throws {
        try requireKernelPrivilege()
        let f = try SteeringFixture(tag: "prefix4")
        defer { f.close() }
        let group = try f.listen("127.0.0.1")
        let maps = try f.maps()
        try maps.setPrefix(ipv4: 24, ipv6: 64)
        XCTAssertEqual(try maps.configuration().mask, AffinityMask(ipv4Prefix: 24, ipv6Prefix: 64))
        let seen = try workersBySource(group, sources: sources("127.0.2.", 1...254), destination: "127.0.0.1")
        let workers = Set(seen.values.flatMap { $0 })
        XCTAssertEqual(workers.count, 1, "127.0.2.0/24 split over \(workers.sorted())")
        XCTAssertEqual(workers.first, try maps.worker(for: ClientAddress("127.0.2.77")!))
        XCTAssertThrowsError(try maps.setPrefix(ipv4: 33, ipv6: nil))
    }

    /// An empty sockarray slot: the connection is still accepted (kernel choice) and the
    /// fallback counter rises.
    func testEmptySlotFallsBackWithoutDropping() throws {
        try requireKernelPrivilege()
        let f = try SteeringFixture(tag: "empty")
        defer { f.close() }
        let group = try f.listen("127.0.0.1")
        let maps = try f.maps()
        let model = try maps.model()
        var key: UInt32 = 2
        XCTAssertEqual(bpf_map_delete_elem(maps.workersFD, &key), 0)
        let victims = sources("127.0.4.", 1...100).filter { model.worker(for: ClientAddress($0)!) == 2 }
        XCTAssertFalse(victims.isEmpty)
        let seen = try workersBySource(group, sources: victims, destination: "127.0.0.1")
        XCTAssertEqual(seen.count, victims.count, "every connection was accepted")
        let counters = try maps.counters()
        XCTAssertEqual(counters.fallback, UInt64(victims.count))
        XCTAssertEqual(counters.selections(of: 2), 0)
        // The batch read (one system call) and the per-key read of older kernels agree.
        let cpus = Int(libbpf_num_possible_cpus())
        XCTAssertEqual(try XCTUnwrap(maps.countersByBatch(cpus: cpus), "no batch lookup"), try maps.countersOneByOne(cpus: cpus))
        XCTAssertEqual(try maps.programStatus().filledSlots, [0, 1, 3])
    }

    /// IPv6 (/128 and /64) and a dual-stack `[::]` group, with AnyIP sources in a namespace.
    func testIPv6AndDualStackInANamespace() throws {
        try requireKernelPrivilege()
        let ns = try TestNamespace()
        defer { ns.leave() }

        // IPv6-only group on ::1.
        do {
            let f = try SteeringFixture(tag: "v6")
            defer { f.close() }
            let group = try f.listen("::1")
            XCTAssertFalse(group.isDualStack)
            let v6 = (1...100).map { "fd00:0:0:\($0)::\(String($0 * 7, radix: 16))" }
            let seen = try workersBySource(group, sources: v6, destination: "::1", repetitions: 3)
            let maps = try f.maps()
            let live = try maps.model()
            XCTAssertEqual(seen.count, 100)
            for (address, workers) in seen {
                XCTAssertEqual(workers.count, 1, "\(address)")
                XCTAssertEqual(workers.first, live.worker(for: address), "\(address)")
            }
            XCTAssertEqual(try maps.counters().ipv6, 300)
            // /64: all hosts of one /64 on one worker.
            try maps.setPrefix(ipv4: nil, ipv6: 64)
            let hosts = (1...100).map { "fd00:1:2:3:\(String($0, radix: 16)):\(String($0 * 13, radix: 16))::1" }
            let net = try workersBySource(group, sources: hosts, destination: "::1")
            let workers = Set(net.values.flatMap { $0 })
            XCTAssertEqual(workers.count, 1, "fd00:1:2:3::/64 split over \(workers.sorted())")
            XCTAssertEqual(workers.first, try maps.worker(for: ClientAddress("fd00:1:2:3::99")!))
        }

        // Dual-stack [::]: IPv4 and IPv6 clients, one group, one attach.
        do {
            let f = try SteeringFixture(tag: "dual")
            defer { f.close() }
            let group = try f.listen("::")
            XCTAssertTrue(group.isDualStack)
            let maps = try f.maps()
            let v4 = try workersBySource(group, sources: sources("127.0.5.", 1...100), destination: "127.0.0.1", repetitions: 2)
            let v6 = try workersBySource(group, sources: (1...100).map { "fd00:5::\(String($0, radix: 16))" }, destination: "::1", repetitions: 2)
            XCTAssertEqual(v4.count, 100)
            XCTAssertEqual(v6.count, 100)
            let live = try maps.model()
            for (address, workers) in v4.merging(v6, uniquingKeysWith: { $0.union($1) }) {
                XCTAssertEqual(workers.count, 1, "\(address)")
                XCTAssertEqual(workers.first, live.worker(for: address), "\(address)")
            }
            XCTAssertEqual(try maps.counters().fallback, 0)
            XCTAssertEqual(try maps.programStatus().groups.first?.address, "::")
        }
    }

    /// Two listener groups (like :443 and :80) in one instance get separate slot ranges.
    func testTwoGroupsGetTheirOwnSlots() throws {
        try requireKernelPrivilege()
        let f = try SteeringFixture(tag: "groups")
        defer { f.close() }
        let a = try f.listen("127.0.0.1")
        let b = try f.listen("127.0.0.1")
        let maps = try f.maps()
        XCTAssertEqual(try maps.programStatus().filledSlots, [0, 1, 2, 3, 64, 65, 66, 67])
        let srcs = sources("127.0.6.", 1...40)
        let viaA = try workersBySource(a, sources: srcs, destination: "127.0.0.1")
        let viaB = try workersBySource(b, sources: srcs, destination: "127.0.0.1")
        let live = try maps.model()
        for (address, w) in viaA {
            XCTAssertEqual(viaB[address], w, "same client, same worker on both listeners")
            XCTAssertEqual(w.first, live.worker(for: address))
        }
        XCTAssertEqual(try maps.counters().noGroup, 0)
        // One group per port: the program finds each by its port alone.
        XCTAssertEqual(try maps.portEntry(port: a.port), 1)
        XCTAssertEqual(try maps.portEntry(port: b.port), 65)
    }

    /// Two groups on one port, on different addresses: the port is marked shared and the
    /// program tells the groups apart by the listener's address (the `groups` hash).
    func testGroupsSharingAPortAreToldApartByAddress() throws {
        try requireKernelPrivilege()
        let f = try SteeringFixture(tag: "shared")
        defer { f.close() }
        let a = try f.listen("127.0.0.1")
        let maps = try f.maps()
        XCTAssertEqual(try maps.portEntry(port: a.port), 1)
        let b = try f.listen("127.0.0.2", port: a.port)
        XCTAssertEqual(b.port, a.port)
        XCTAssertEqual(try maps.portEntry(port: a.port), ES_PORT_SHARED)
        XCTAssertEqual(try maps.programStatus().filledSlots, [0, 1, 2, 3, 64, 65, 66, 67])
        let srcs = sources("127.0.8.", 1...60)
        let viaA = try workersBySource(a, sources: srcs, destination: "127.0.0.1")
        let viaB = try workersBySource(b, sources: srcs, destination: "127.0.0.2")
        XCTAssertEqual(viaA.count, 60)
        XCTAssertEqual(viaB.count, 60)
        let live = try maps.model()
        for (address, w) in viaA {
            XCTAssertEqual(w.count, 1)
            XCTAssertEqual(w.first, live.worker(for: address), "\(address) via 127.0.0.1")
            XCTAssertEqual(viaB[address], w, "\(address) via 127.0.0.2")
        }
        let counters = try maps.counters()
        XCTAssertEqual(counters.noGroup, 0)
        XCTAssertEqual(counters.fallback, 0)
        XCTAssertEqual(counters.total, 120)
        // Re-registering (a reload) keeps the entry.
        try maps.updatePortEntry(port: a.port)
        XCTAssertEqual(try maps.portEntry(port: a.port), ES_PORT_SHARED)
    }

    /// A port no registered group listens on: nothing selected, counted as no group.
    func testUnregisteredPortCountsNoGroup() throws {
        try requireKernelPrivilege()
        let f = try SteeringFixture(tag: "nogroup")
        defer { f.close() }
        let group = try f.listen("127.0.0.1")
        let maps = try f.maps()
        var key = UInt32(group.port)
        var zero: UInt32 = 0
        XCTAssertEqual(bpf_map_update_elem(maps.portGroupsFD, &key, &zero, UInt64(BPF_ANY)), 0)
        let seen = try workersBySource(group, sources: sources("127.0.9.", 1...20), destination: "127.0.0.1")
        XCTAssertEqual(seen.count, 20, "every connection was accepted")
        let counters = try maps.counters()
        XCTAssertEqual(counters.noGroup, 20)
        XCTAssertEqual(counters.fallback, 20)
        XCTAssertEqual(counters.total, 20)
    }

    func testInstanceErrorsAndUnload() throws {
        try requireKernelPrivilege()
        XCTAssertThrowsError(try InstanceMaps(instance: "no-such-\(getpid())")) {
            guard case .noSuchInstance = $0 as? SteeringError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try InstanceMaps(instance: "../etc")) {
            XCTAssertEqual($0 as? SteeringError, .invalidInstanceName("../etc"))
        }
        XCTAssertThrowsError(try SteeringProgram(.init(instance: "x", pinRoot: "/tmp/not-bpffs-\(getpid())/edgesplit", workers: 2))) {
            guard case .bpffsMissing = $0 as? SteeringError else { return XCTFail("\($0)") }
        }
        let f = try SteeringFixture(tag: "unload")
        defer { f.close() }
        try f.listen("127.0.0.1")
        XCTAssertThrowsError(try InstanceMaps.unload(instance: f.instance)) {
            XCTAssertEqual($0 as? SteeringError, .instanceRunning(instance: f.instance, sockets: 4))
        }
        // A stopped instance (program closed, pins kept) unloads.
        for g in f.groups { g.close() }
        f.program.close(unpin: false)
        XCTAssertNoThrow(try InstanceMaps(instance: f.instance))
        try InstanceMaps.unload(instance: f.instance)
        XCTAssertEqual(access("/sys/fs/bpf/edgesplit/\(f.instance)", F_OK), -1)
    }

    /// A second process (here: a second load) reuses the pinned maps; a different layout is refused.
    func testLayoutMismatchIsRefused() throws {
        try requireKernelPrivilege()
        let f = try SteeringFixture(tag: "layout", workers: 2)
        defer { f.close() }
        let maps = try f.maps()
        var raw = try maps.rawConfig()
        raw.layout_version = 999
        try maps.writeConfig(raw)
        XCTAssertThrowsError(try InstanceMaps(instance: f.instance)) {
            guard case .layoutMismatch = $0 as? SteeringError else { return XCTFail("\($0)") }
            XCTAssertTrue("\($0)".contains("edgesplit bpf unload --instance \(f.instance)"))
        }
        XCTAssertThrowsError(try SteeringProgram(.init(instance: f.instance, workers: 2))) {
            guard case .layoutMismatch = $0 as? SteeringError else { return XCTFail("\($0)") }
        }
    }

    /// Pinned maps of the older layouts, as an older edgesplit left them — layout 1 (one u32
    /// map element per Maglev slot, no port_groups) and layout 2 (the packed 65537-slot
    /// table) — are refused with the message that says to unload them, and `bpf unload`
    /// removes them.
    func testPinnedMapsOfOlderLayoutsAreRefused() throws {
        try requireKernelPrivilege()
        try refuseOlderLayout(version: 1, maglevValueSize: 4, maglevEntries: 131_074, portGroups: false)
        try refuseOlderLayout(version: 2, maglevValueSize: 8, maglevEntries: 16_386, portGroups: true)
    }

    /// Layout 3 (no `loads` map, a 40-byte `cfg`) as the previous edgesplit left it: refused,
    /// whatever the stamp says, because its `cfg` has another size.
    func testPinnedMapsOfLayout3AreRefused() throws {
        try requireKernelPrivilege()
        let instance = uniqueInstance("oldlayout3")
        let directory = InstanceMaps.defaultPinRoot + "/" + instance
        defer { _ = shell("rm -rf \(directory)") }
        pinMaps(in: directory, [
            ("workers", BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, 1024),
            ("groups", BPF_MAP_TYPE_HASH, 24, 4, 16),
            ("maglev", BPF_MAP_TYPE_ARRAY, 4, 8, UInt32(ES_MAGLEV_ENTRIES)),
            ("cfg", BPF_MAP_TYPE_ARRAY, 4, 40, 1),
            ("counters", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 71),
            ("port_groups", BPF_MAP_TYPE_ARRAY, 4, 4, 65536),
        ])
        XCTAssertThrowsError(try InstanceMaps(instance: instance)) {
            guard case .layoutMismatch = $0 as? SteeringError else { return XCTFail("\($0)") }
            XCTAssertTrue("\($0)".contains("cfg value size 40, expected \(MemoryLayout<es_config>.size)"), "\($0)")
            XCTAssertTrue("\($0)".contains("edgesplit bpf unload --instance \(instance)"), "\($0)")
        }
        XCTAssertThrowsError(try SteeringProgram(.init(instance: instance, workers: 2))) {
            guard case .layoutMismatch = $0 as? SteeringError else { return XCTFail("\($0)") }
        }
        try InstanceMaps.unload(instance: instance)
        XCTAssertEqual(access(directory, F_OK), -1)
    }

    /// Maps of this layout's version but another shape (a `counters` map with another number of
    /// entries, as a binary built with another ES_MAX_WORKERS would pin) are refused by name.
    func testPinnedMapOfAnotherShapeIsRefusedByName() throws {
        try requireKernelPrivilege()
        let instance = uniqueInstance("othershape")
        let directory = InstanceMaps.defaultPinRoot + "/" + instance
        defer { _ = shell("rm -rf \(directory)") }
        pinMaps(in: directory, [
            ("workers", BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, UInt32(ES_WORKER_SLOTS)),
            ("groups", BPF_MAP_TYPE_HASH, UInt32(MemoryLayout<es_group_key>.size), 4, UInt32(ES_MAX_GROUPS)),
            ("maglev", BPF_MAP_TYPE_ARRAY, 4, 8, UInt32(ES_MAGLEV_ENTRIES)),
            ("cfg", BPF_MAP_TYPE_ARRAY, 4, UInt32(MemoryLayout<es_config>.size), 1),
            ("loads", BPF_MAP_TYPE_ARRAY, 4, UInt32(MemoryLayout<es_loads>.size), 1),
            ("counters", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, UInt32(ES_CNT_COUNT) + 64),
            ("port_groups", BPF_MAP_TYPE_ARRAY, 4, 4, UInt32(ES_PORTS)),
        ])
        XCTAssertThrowsError(try InstanceMaps(instance: instance)) {
            guard case .layoutMismatch = $0 as? SteeringError else { return XCTFail("\($0)") }
            XCTAssertTrue("\($0)".contains("counters is a map of type"), "\($0)")
            XCTAssertTrue("\($0)".contains("\(UInt32(ES_CNT_COUNT) + 64) entries"), "\($0)")
            XCTAssertTrue("\($0)".contains("edgesplit bpf unload --instance \(instance)"), "\($0)")
        }
        try InstanceMaps.unload(instance: instance)
        XCTAssertEqual(access(directory, F_OK), -1)
    }

    /// Name, type, key size, value size and entries of one map an older edgesplit pinned.
    private typealias PinnedMap = (String, bpf_map_type, UInt32, UInt32, UInt32)

    /// Creates and pins `maps` in `directory` as an older edgesplit left them.
    private func pinMaps(in directory: String, _ maps: [PinnedMap]) {
        _ = shell("mkdir -p \(directory)")
        for (name, type, keySize, valueSize, entries) in maps {
            let fd = bpf_map_create(type, name, keySize, valueSize, entries, nil)
            XCTAssertGreaterThanOrEqual(fd, 0, "create \(name): errno \(errno)")
            XCTAssertEqual(bpf_obj_pin(fd, directory + "/" + name), 0, "pin \(name)")
            Glibc.close(fd)
        }
    }

    private func refuseOlderLayout(version: UInt32, maglevValueSize: UInt32, maglevEntries: UInt32, portGroups: Bool) throws {
        let instance = uniqueInstance("oldlayout\(version)")
        let directory = InstanceMaps.defaultPinRoot + "/" + instance
        defer { _ = shell("rm -rf \(directory)") }
        var old: [PinnedMap] = [
            ("workers", BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, 1024),
            ("groups", BPF_MAP_TYPE_HASH, 24, 4, 16),
            ("maglev", BPF_MAP_TYPE_ARRAY, 4, maglevValueSize, maglevEntries),
            ("cfg", BPF_MAP_TYPE_ARRAY, 4, UInt32(MemoryLayout<es_config>.size), 1),
            ("counters", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 72),
        ]
        if portGroups { old.append(("port_groups", BPF_MAP_TYPE_ARRAY, 4, 4, 65536)) }
        pinMaps(in: directory, old)
        let stampFD = bpf_obj_get(directory + "/cfg")
        var stampKey: UInt32 = 0
        var stamp = es_config()
        stamp.layout_version = version
        XCTAssertEqual(bpf_map_update_elem(stampFD, &stampKey, &stamp, UInt64(BPF_ANY)), 0)
        Glibc.close(stampFD)
        XCTAssertThrowsError(try InstanceMaps(instance: instance)) {
            guard case .layoutMismatch = $0 as? SteeringError else { return XCTFail("\($0)") }
            XCTAssertTrue("\($0)".contains("layout version \(version), this binary uses \(ES_LAYOUT_VERSION)"), "\($0)")
            XCTAssertTrue("\($0)".contains("edgesplit bpf unload --instance \(instance)"), "\($0)")
        }
        XCTAssertThrowsError(try SteeringProgram(.init(instance: instance, workers: 2))) {
            guard case .layoutMismatch = $0 as? SteeringError else { return XCTFail("\($0)") }
        }
        // Without the version stamp the map shapes give it away.
        let cfgFD = bpf_obj_get(directory + "/cfg")
        var key: UInt32 = 0
        var blank = es_config()
        XCTAssertEqual(bpf_map_update_elem(cfgFD, &key, &blank, UInt64(BPF_ANY)), 0)
        Glibc.close(cfgFD)
        XCTAssertThrowsError(try InstanceMaps(instance: instance)) {
            guard case .layoutMismatch = $0 as? SteeringError else { return XCTFail("\($0)") }
            XCTAssertTrue("\($0)".contains("maglev has \(maglevEntries) entries of \(maglevValueSize) bytes"), "\($0)")
        }
        try InstanceMaps.unload(instance: instance)
        XCTAssertEqual(access(directory, F_OK), -1)
    }

    /// Without privilege (here: this thread as uid 65534, without CAP_BPF) the program
    /// cannot load and `init` throws a typed error that says why; the caller then keeps plain
    /// reuseport listeners.
    func testWithoutPrivilegeInitThrowsATypedError() throws {
        try requireKernelPrivilege()
        let root = "/sys/fs/bpf/edgesplit-unpriv-\(getpid())"
        XCTAssertEqual(mkdir(root, 0o777), 0)
        _ = chmod(root, 0o777)
        defer { _ = shell("rm -rf \(root)") }
        XCTAssertEqual(es_thread_setresuid(65534, 65534, 0), 0)
        var thrown: Error?
        do {
            let p = try SteeringProgram(.init(instance: "np", pinRoot: root, workers: 2))
            p.close(unpin: true)
        } catch {
            thrown = error
        }
        XCTAssertEqual(es_thread_setresuid(0, 0, 0), 0)
        XCTAssertEqual(geteuid(), 0)
        XCTAssertEqual(thrown as? SteeringError, .notPermitted(operation: "load the BPF steering program"))
        XCTAssertEqual(access(root + "/np", F_OK), -1, "a failed init leaves no instance directory behind")
        XCTAssertEqual("\(thrown!)", "load the BPF steering program: operation not permitted (run as root or with CAP_BPF)")
        // A listener group still works without BPF: plain reuseport.
        let group = try ListenerGroup(address: "127.0.0.1", port: 0, workers: 2)
        group.close()
    }

    /// Closing a listener (as a reload does) migrates its accept queue with the
    /// `sk_reuseport/migrate` program: no connection is lost, and each lands on the worker the
    /// (already updated) table names, hashed from the migrating socket without a packet.
    func testClosingAListenerMigratesItsQueueToTheTableWorker() throws {
        try requireKernelPrivilege()
        let f = try SteeringFixture(tag: "migrate", workers: 3)
        defer { f.close() }
        guard f.program.migrates else { throw XCTSkip("the kernel refused sk_reuseport/migrate") }
        let group = try f.listen("127.0.0.1", workers: 3)
        group.relinquish()  // this test closes the listeners itself
        var open = group.descriptors
        defer { for fd in open { Glibc.close(fd) } }
        let maps = try f.maps()
        let before = try maps.model()
        let queued = (1...120).map { "127.0.7.\($0)" }.filter { before.worker(for: ClientAddress($0)!) == 0 }
        XCTAssertFalse(queued.isEmpty)
        var clients: [CInt] = []
        defer { for fd in clients { Glibc.close(fd) } }
        for s in queued { clients.append(try connectFrom(s, to: "127.0.0.1", port: group.port)) }
        usleep(50_000)  // let the final ACKs land in worker 0's accept queue

        try maps.drain(worker: 0)  // the table first, then close (the reload order)
        let after = try maps.model()
        Glibc.close(open.removeFirst())
        let accepted = try acceptAll(descriptors: open, expected: queued.count)
        XCTAssertEqual(accepted.count, queued.count, "every queued connection survived the close")
        for (address, index) in accepted {
            XCTAssertEqual(index + 1, after.worker(for: address), "\(address)")
        }
        let counters = try maps.counters()
        XCTAssertEqual(counters.migrations, UInt64(queued.count), "\(counters)")
        XCTAssertEqual(counters.migrationsWithoutPacket, UInt64(queued.count))
        XCTAssertEqual(counters.fallback, 0, "\(counters)")
    }
}
