import Foundation
import XCTest

@testable import Admin

/// The shared JSON model: what each document looks like on the wire (keys, `null`s, integers
/// that stay integers), that it reads back as written, and that a request that is not one is
/// refused with a reason rather than a crash.
final class JSONModelTests: XCTestCase {
    private func object(_ value: some Encodable) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONOutput.data(value)) as? [String: Any])
    }

    private func sampleProcess() -> ProcessStats {
        var worker = ProcessStats.Worker(worker: 0)
        (worker.accepted, worker.active, worker.requests, worker.limited) = (12, 1, 30, ["requests_per_minute": 2])
        worker.http2.streams = 4
        var rule = ProcessStats.Traffic(name: "web")
        (rule.requests, rule.statusClasses, rule.latencyP50Milliseconds) = (30, [0, 29, 0, 0, 1], 1.5)
        var member = ProcessStats.Member(farm: "pool", member: "10.0.0.11:8080", state: "up")
        (member.requests, member.lastCheck) = (30, "200")
        var route = ProcessStats.L4Route(name: "sip", listener: "edge", farm: "fe")
        route.splicedBytesToMember = 1 << 40
        var certificate = ProcessStats.Certificate(listener: "edge", subject: "CN=meet.contoso.com")
        (certificate.names, certificate.daysLeft) = (["meet.contoso.com"], 89)
        return ProcessStats(
            instance: "farm", configurationDigest: nil, startedAt: "2026-12-06T10:00:00Z", uptimeSeconds: 12.5,
            workers: [worker], listeners: [ProcessStats.Traffic(name: "edge")], rules: [rule, ProcessStats.Traffic(name: "(no rule)")],
            members: [member], l4Splice: "kernel", l4SplicedBytesDropped: 0, l4Routes: [route], certificates: [certificate],
            tls: [ProcessStats.ListenerTLS(listener: "edge", handshakes: 4, resumed: 1, resumptionRate: 0.25)],
            recentServerErrors: [ProcessStats.ServerError(time: "2026-12-06T10:00:05Z", rule: "web", member: "10.0.0.11:8080", status: 503, worker: 0)],
            sessionTickets: ProcessStats.SessionTickets(rotations: 1, currentKeyAgeSeconds: 30, rotateSeconds: 43_200))
    }

    func testProcessStatsKeysAndRoundTrip() throws {
        let process = sampleProcess()
        let json = try object(process)
        XCTAssertEqual(Set(json.keys), [
            "instance", "config_digest", "started_at", "uptime_seconds", "workers", "listeners", "rules", "members", "l4_splice",
            "l4_spliced_bytes_dropped", "l4_routes", "certificates", "tls", "recent_5xx", "session_tickets",
        ])
        XCTAssertTrue(json["config_digest"] is NSNull, "an unknown digest is null, not left out")
        let rule = try XCTUnwrap((json["rules"] as? [[String: Any]])?.first)
        XCTAssertEqual(rule["status_2xx"] as? Int, 29)
        XCTAssertEqual(rule["status_5xx"] as? Int, 1)
        XCTAssertEqual(rule["latency_p50_ms"] as? Double, 1.5)
        let worker = try XCTUnwrap((json["workers"] as? [[String: Any]])?.first)
        XCTAssertEqual((worker["http2"] as? [String: Any])?["streams"] as? Int, 4)
        XCTAssertEqual((worker["limited"] as? [String: Int])?["requests_per_minute"], 2)
        let text = JSONOutput.text(process)
        XCTAssertTrue(text.contains(#""spliced_bytes_to_member":1099511627776"#), "integers stay integers: \(text)")
        XCTAssertFalse(text.contains("\n"), "one line")
        XCTAssertEqual(try JSONDecoder().decode(ProcessStats.self, from: Data(text.utf8)), process)
    }

    func testOlderProcessStatsReadWithZeros() throws {
        let old = #"{"instance": "farm", "workers": [{"worker": 1, "accepted": 3}], "rules": [{"name": "web", "requests": 2, "status_2xx": 2}]}"#
        let process = try JSONDecoder().decode(ProcessStats.self, from: Data(old.utf8))
        XCTAssertEqual(process.workers.first?.accepted, 3)
        XCTAssertEqual(process.workers.first?.http2, ProcessStats.HTTP2())
        XCTAssertEqual(process.rules.first?.statusClasses, [0, 2, 0, 0, 0])
        XCTAssertNil(process.configurationDigest)
        XCTAssertEqual(process.members, [])
    }

    func testStatsDocumentSaysWhyAPartIsMissing() throws {
        let document = StatsDocument(instance: "farm", time: "2026-12-06T10:00:00Z", kernel: nil, kernelError: nil, process: nil, processError: "no control socket")
        let json = try object(document)
        XCTAssertTrue(json["kernel"] is NSNull)
        XCTAssertEqual(json["kernel_error"] as? String, "not loaded")
        XCTAssertTrue(json["process"] is NSNull)
        XCTAssertEqual(json["running"] as? Bool, false)
        XCTAssertEqual(json["process_error"] as? String, "no control socket")
        XCTAssertEqual(try JSONDecoder().decode(StatsDocument.self, from: JSONOutput.data(document)), document)

        let kernel = KernelSteering(
            programID: 7, programName: "edgesplit_steer", attached: true, runCount: 10, nanosecondsPerDecision: nil, generation: 2,
            ipv4Prefix: 24, ipv6Prefix: 64, workers: 2, drained: [1], selections: [6, 4], overflowed: [0, 0], balanceFactor: 1.25,
            fallbacks: 0, migrations: 0, ipv6: 1, decisions: 10)
        let running = StatsDocument(instance: "farm", time: "t", kernel: kernel, kernelError: nil, process: sampleProcess(), processError: nil)
        let runningJSON = try object(running)
        XCTAssertNil(runningJSON["kernel_error"])
        XCTAssertNil(runningJSON["process_error"])
        XCTAssertEqual(runningJSON["running"] as? Bool, true)
        XCTAssertTrue((runningJSON["kernel"] as? [String: Any])?["ns_per_decision"] is NSNull)
        XCTAssertEqual((runningJSON["kernel"] as? [String: Any])?["balance_factor"] as? Double, 1.25)
        XCTAssertNil((runningJSON["process"] as? [String: Any])?["ok"], "the process part has no `ok`")
        XCTAssertEqual(try JSONDecoder().decode(StatsDocument.self, from: JSONOutput.data(running)), running)
    }

    func testControlRequestsOnTheWire() throws {
        let requests: [ControlRequest] = [.ping, .stats, .farmStatus, .farmDrain(farm: "pool", member: "10.0.0.11:8080"),
                                          .farmUndrain(farm: "pool", member: "1"), .reload, .retire]
        for request in requests {
            XCTAssertEqual(try ControlRequest.decode(line: JSONOutput.data(request)).get(), request)
        }
        XCTAssertEqual(JSONOutput.text(ControlRequest.farmDrain(farm: "pool", member: "m")), #"{"command":"farm-drain","farm":"pool","member":"m"}"#)
        // What an older CLI sends, with its key order and spacing.
        XCTAssertEqual(try ControlRequest.decode(line: Data(#"{"member": "m", "command": "farm-undrain", "farm": "pool"}"#.utf8)).get(),
                       .farmUndrain(farm: "pool", member: "m"))
    }

    func testMalformedRequestsAreRefusedWithAReason() {
        func reason(_ line: String) -> String? {
            if case .failure(let malformed) = ControlRequest.decode(line: Data(line.utf8)) { return malformed.description }
            return nil
        }
        XCTAssertEqual(reason("not json"), "expected one JSON object per line")
        XCTAssertEqual(reason("[1, 2]"), "expected one JSON object per line")
        XCTAssertEqual(reason("{}"), "unknown command ''")
        XCTAssertEqual(reason(#"{"command": "format-disk"}"#), "unknown command 'format-disk'")
        XCTAssertEqual(reason(#"{"command": 5}"#), "expected one JSON object per line")
        XCTAssertEqual(reason(#"{"command": "farm-drain", "farm": "pool"}"#), #"farm-drain needs "farm" and "member" (strings)"#)
        XCTAssertEqual(reason(#"{"command": "farm-drain", "farm": "pool", "member": 3}"#), #"farm-drain needs "farm" and "member" (strings)"#)
    }

    func testRepliesRoundTripBesideOK() throws {
        let farms = [FarmStatus(name: "pool", activeChecks: true, members: [
            FarmStatus.Member(member: "10.0.0.11:8080", state: "up", up: true, drained: false, consecutiveFailures: 0, lastCheck: "200", lastCheckAt: "t"),
        ])]
        let cases: [(ControlRequest, ControlReply)] = [
            (.ping, .pong(instance: "farm", generation: 3)), (.stats, .stats(sampleProcess())), (.farmStatus, .farms(farms)),
            (.reload, .reloaded(generation: 4)), (.retire, .done), (.farmDrain(farm: "pool", member: "x"), .refused("farm 'pool' has no member 'x'")),
        ]
        for (request, reply) in cases {
            XCTAssertEqual(try ControlReply.decode(JSONOutput.data(reply), answering: request), reply, "\(request)")
        }
        let stats = try object(ControlReply.stats(sampleProcess()))
        XCTAssertEqual(stats["ok"] as? Bool, true)
        XCTAssertEqual(stats["instance"] as? String, "farm", "the figures sit beside ok")
        XCTAssertEqual(JSONOutput.text(ControlReply.refused("no")), #"{"error":"no","ok":false}"#)
        XCTAssertEqual(JSONOutput.text(ControlReply.pong(instance: "farm", generation: 3)), #"{"generation":3,"instance":"farm","ok":true}"#)
        let member = try XCTUnwrap(((try object(ControlReply.farms(farms))["farms"] as? [[String: Any]])?.first?["members"] as? [[String: Any]])?.first)
        XCTAssertEqual(member["consecutive_failures"] as? Int, 0)
        XCTAssertEqual(member["last_check_at"] as? String, "t")
    }

    func testANumberJSONCannotWriteIsARefusalNotACrash() throws {
        var traffic = ProcessStats.Traffic(name: "web")
        traffic.latencyP99Milliseconds = .infinity
        let json = try object(traffic)
        XCTAssertEqual(json["ok"] as? Bool, false)
        XCTAssertTrue((json["error"] as? String)?.hasPrefix("edgesplit could not write this JSON") == true, "\(json)")
    }

    func testQuoteEscapesWhatJSONRequires() throws {
        let value = "a\"b\\c\nd\u{1}é/"
        let quoted = JSONOutput.quote(value)
        XCTAssertEqual(quoted, "\"a\\\"b\\\\c\\nd\\u0001é/\"")
        XCTAssertEqual(try JSONDecoder().decode(String.self, from: Data(quoted.utf8)), value)
    }
}
