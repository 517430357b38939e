#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// `edgesplit maps …` and `edgesplit bpf …` against a running server: draining a worker moves
/// only its clients, undraining restores the exact mapping, a prefix change groups a /24, the
/// JSON has stable keys, and mistakes are refused with a clear message.
final class MapsCommandTests: EdgesplitTestCase {
    func testDrainUndrainAndPrefixAgainstARunningServer() throws {
        try requireRoot()
        let backend = try TinyBackend()
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "maps", backend: backend)

        let sources = (1...200).map { "127.0.2.\($0)" }
        let before = try server.workers(of: sources)
        let onTwo = sources.filter { before[$0] == 2 }
        XCTAssertFalse(onTwo.isEmpty, "some of 200 sources map to worker 2")

        // Drain worker 2: its sources move, only to other workers; of the others, only Maglev's
        // small collateral (about 0.4 % of the slots for 4 workers) may move.
        let drain = try server.cli(["maps", "drain", "2", "--json"])
        XCTAssertEqual(drain.status, 0, "\(drain)")
        let drained = try jsonObject(drain.stdout)
        XCTAssertEqual(drained["drained"] as? Bool, true)
        XCTAssertEqual(drained["drained_workers"] as? [Int], [2])
        let during = try server.workers(of: sources)
        var collateral: [String] = []
        for source in sources {
            if before[source] == 2 {
                XCTAssertNotEqual(during[source], 2, "\(source) still on the drained worker")
            } else if during[source] != before[source] {
                collateral.append(source)
            }
        }
        XCTAssertLessThanOrEqual(collateral.count, 3, "sources of undrained workers moved: \(collateral)")

        // New connections from the moved sources land where the maps now say, never on 2.
        let moved = Array(onTwo.prefix(12))
        for source in moved {
            XCTAssertEqual(try server.get("/after-drain", from: source).status, 200)
        }
        let records = try server.waitForAccessLog(count: moved.count)
        let seen = records.workersByClient()
        for source in moved {
            XCTAssertEqual(seen[source], [during[source]!], "\(source) after the drain")
        }

        // Undrain: the exact old mapping comes back.
        let undrain = try server.cli(["maps", "undrain", "2"])
        XCTAssertEqual(undrain.status, 0, "\(undrain)")
        XCTAssertTrue(undrain.stdout.hasPrefix("worker 2 undrained; drained workers: none"), undrain.stdout)
        XCTAssertEqual(try server.workers(of: sources), before)

        // A /24 prefix: the whole of 127.0.2.0/24 goes to one worker, and so do connections.
        let prefix = try server.cli(["maps", "set-prefix", "--ipv4", "24", "--json"])
        XCTAssertEqual(prefix.status, 0, "\(prefix)")
        XCTAssertEqual(try jsonObject(prefix.stdout)["ipv4_prefix"] as? Int, 24)
        let whole = try server.workers(of: (0...255).map { "127.0.2.\($0)" })
        XCTAssertEqual(Set(whole.values).count, 1, "127.0.2.0/24 spans workers \(Set(whole.values))")
        let prefixWorker = whole.values.first!
        let sample = ["127.0.2.3", "127.0.2.77", "127.0.2.150", "127.0.2.254"]
        for source in sample {
            XCTAssertEqual(try server.get("/prefix", from: source).status, 200)
        }
        let after = try server.waitForAccessLog(count: moved.count + sample.count)
            .filter { ($0["cs-uri-stem"] as? String) == "/prefix" }
        XCTAssertEqual(after.map { $0["worker"] as? Int }, Array(repeating: prefixWorker, count: sample.count))

        try assertStableJSON(server)

        let exit = try server.stop()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertFalse(InstancePins.exists(server.instance))
    }

    /// `maps show --json` and `bpf status --json` keep their keys (scripts depend on them).
    private func assertStableJSON(_ server: ServedInstance) throws {
        let show = try server.cli(["maps", "show", "--json"])
        XCTAssertEqual(show.status, 0, "\(show)")
        let maps = try jsonObject(show.stdout)
        XCTAssertEqual(Set(maps.keys), [
            "instance", "pin_path", "ipv4_prefix", "ipv6_prefix", "seed", "generation", "active_half",
            "worker_count", "balance_factor", "workers", "groups", "fallback", "total",
        ])
        XCTAssertTrue(maps["balance_factor"] is NSNull, "no balance_factor configured")
        XCTAssertEqual(maps["instance"] as? String, server.instance)
        XCTAssertEqual(maps["pin_path"] as? String, InstancePins.directory(server.instance))
        XCTAssertEqual(maps["ipv4_prefix"] as? Int, 24)
        XCTAssertEqual(maps["ipv6_prefix"] as? Int, 128)
        XCTAssertEqual(maps["seed"] as? Int, 7)
        XCTAssertEqual(maps["worker_count"] as? Int, 4)
        // Published once at start, then drain, undrain and set-prefix.
        XCTAssertEqual(maps["generation"] as? Int, 4)
        let workers = try XCTUnwrap(maps["workers"] as? [[String: Any]])
        XCTAssertEqual(workers.count, 4)
        var share = 0.0
        for (index, worker) in workers.enumerated() {
            XCTAssertEqual(Set(worker.keys), ["worker", "slots", "share", "drained", "selections", "overflowed", "open"])
            XCTAssertEqual(worker["overflowed"] as? Int, 0)
            XCTAssertEqual(worker["worker"] as? Int, index)
            XCTAssertEqual(worker["drained"] as? Bool, false)
            share += worker["share"] as? Double ?? 0
        }
        XCTAssertEqual(share, 1.0, accuracy: 0.001)
        let groups = try XCTUnwrap(maps["groups"] as? [[String: Any]])
        XCTAssertEqual(groups.count, 1)
        XCTAssertEqual(groups.first?["address"] as? String, "127.0.0.1")
        XCTAssertEqual(groups.first?["port"] as? Int, server.port)

        let statusResult = try server.cli(["bpf", "status", "--json"])
        XCTAssertEqual(statusResult.status, 0, "\(statusResult)")
        let status = try jsonObject(statusResult.stdout)
        XCTAssertEqual(Set(status.keys), [
            "instance", "pin_path", "loaded", "program_id", "program_name", "migrate", "attached", "run_count",
            "run_time_ns", "ns_per_decision", "stats_enabled", "filled_slots", "groups", "counters",
        ])
        XCTAssertEqual(status["pin_path"] as? String, InstancePins.directory(server.instance))
        XCTAssertEqual(status["loaded"] as? Bool, true)
        XCTAssertEqual(status["attached"] as? Bool, true)
        XCTAssertGreaterThan(status["program_id"] as? Int ?? 0, 0)
        // Every connection so far ran the program once.
        XCTAssertGreaterThanOrEqual(status["run_count"] as? Int ?? 0, 16)
        XCTAssertEqual(status["filled_slots"] as? [Int], [0, 1, 2, 3])
        let counters = try XCTUnwrap(status["counters"] as? [String: Any])
        XCTAssertEqual(Set(counters.keys), [
            "total", "fallback", "err_load", "err_proto", "migrate", "migrate_nopkt", "ipv6", "no_group", "selections",
            "overflowed",
        ])
    }

    func testMistakesAreRefusedWithAClearMessage() throws {
        try requireRoot()
        // No such instance.
        let nosuch = try run(["maps", "show", "--instance", "nosuch-\(getpid())"])
        XCTAssertEqual(nosuch.status, 1)
        XCTAssertEqual(nosuch.stdout, "")
        XCTAssertEqual(nosuch.stderrLines, [
            "edgesplit: error: no such instance 'nosuch-\(getpid())': nothing pinned at /sys/fs/bpf/edgesplit/nosuch-\(getpid()) (is edgesplit serve running with --instance nosuch-\(getpid())?)",
        ])

        let backend = try TinyBackend()
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "errors", backend: backend)

        let badAddress = try server.cli(["maps", "where", "not-an-ip"])
        XCTAssertEqual(badAddress.status, 1)
        XCTAssertEqual(badAddress.stderrLines, ["edgesplit: error: bad address 'not-an-ip': expected an IPv4 or IPv6 literal"])

        let outOfRange = try server.cli(["maps", "drain", "99"])
        XCTAssertEqual(outOfRange.status, 1)
        XCTAssertEqual(outOfRange.stderrLines, ["edgesplit: error: worker 99 out of range: this instance has workers 0...3"])

        let badPrefix = try server.cli(["maps", "set-prefix", "--ipv4", "33"])
        XCTAssertEqual(badPrefix.status, 1)
        XCTAssertEqual(badPrefix.stderrLines, ["edgesplit: error: bad IPv4 prefix 33: expected 0...32"])

        let running = try server.cli(["bpf", "unload"])
        XCTAssertEqual(running.status, 1)
        XCTAssertEqual(running.stderrLines, [
            "edgesplit: error: instance '\(server.instance)' is running (4 listening sockets in its sockarray); stop it first, or pass --force",
        ])
        XCTAssertTrue(InstancePins.exists(server.instance))
        // Nothing above changed the table.
        XCTAssertEqual(try jsonObject(server.cli(["maps", "show", "--json"]).stdout)["generation"] as? Int, 1)

        // A clean exit removes the pinned state.
        let exit = try server.stop()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertFalse(InstancePins.exists(server.instance))
        let gone = try server.cli(["bpf", "status"])
        XCTAssertEqual(gone.status, 1)
        XCTAssertTrue(gone.stderr.contains("no such instance '\(server.instance)'"), gone.stderr)
    }

    func testUnloadRemovesTheStateOfAKilledServer() throws {
        try requireRoot()
        let backend = try TinyBackend()
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "stale", backend: backend, workers: 2)
        XCTAssertEqual(try server.get().status, 200)
        // A crash leaves the pins behind, with no socket in the sockarray.
        server.process.send(SIGKILL)
        _ = try server.process.waitForExit()
        XCTAssertTrue(InstancePins.exists(server.instance))

        let status = try server.cli(["bpf", "status", "--json"])
        XCTAssertEqual(status.status, 0, "\(status)")
        let object = try jsonObject(status.stdout)
        XCTAssertEqual(object["attached"] as? Bool, false)
        XCTAssertEqual(object["filled_slots"] as? [Int], [])

        let unload = try server.cli(["bpf", "unload", "--json"])
        XCTAssertEqual(unload.status, 0, "\(unload)")
        let unloaded = try jsonObject(unload.stdout)
        XCTAssertEqual(unloaded["unloaded"] as? Bool, true)
        XCTAssertEqual(unloaded["pin_path"] as? String, InstancePins.directory(server.instance))
        XCTAssertFalse(InstancePins.exists(server.instance))

        let again = try server.cli(["bpf", "unload"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("no such instance '\(server.instance)'"), again.stderr)
    }
}
