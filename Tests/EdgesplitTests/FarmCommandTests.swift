import Foundation
import XCTest

/// `edgesplit farm status|drain|undrain` against a running `serve`, through its control socket.
final class FarmCommandTests: EdgesplitTestCase {
    func testStatusDrainAndUndrainThroughTheControlSocket() throws {
        let backend = try TinyBackend()
        addTeardownBlock { backend.stop() }
        let served = try ServedInstance(self, tag: "farm", backend: backend, workers: 1, kernelSteering: false)
        let member = "127.0.0.1:\(backend.port)"

        let status = try served.cli(["farm", "status", "--json"])
        XCTAssertEqual(status.status, 0, status.description)
        let object = try jsonObject(status.stdout.replacingOccurrences(of: "\n", with: " "))
        let farms = try XCTUnwrap(object["farms"] as? [[String: Any]])
        XCTAssertEqual(farms.first?["name"] as? String, "app")
        let members = try XCTUnwrap(farms.first?["members"] as? [[String: Any]])
        XCTAssertEqual(members.first?["member"] as? String, member)
        XCTAssertEqual(members.first?["state"] as? String, "up")

        let drain = try served.cli(["farm", "drain", "app", member])
        XCTAssertEqual(drain.status, 0, drain.description)
        XCTAssertEqual(drain.stdout, "app \(member): drained\n")
        XCTAssertTrue(try served.cli(["farm", "status"]).stdout.contains("drained"))
        // The only member is drained: no member takes new clients.
        XCTAssertEqual(try served.get("/").status, 503)

        XCTAssertEqual(try served.cli(["farm", "undrain", "app", "0"]).status, 0)
        XCTAssertEqual(try served.get("/").status, 200)

        let unknown = try served.cli(["farm", "drain", "nosuch", member])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("edgesplit: error: no farm 'nosuch' (farms are: app)"), unknown.stderr)
        let badMember = try served.cli(["farm", "drain", "app", "10.1.1.1:1"])
        XCTAssertEqual(badMember.status, 1)
        XCTAssertTrue(badMember.stderr.contains("members are: \(member)"), badMember.stderr)

        _ = try served.stop()
        let stopped = try run(["farm", "status", "--instance", served.instance])
        XCTAssertEqual(stopped.status, 1)
        XCTAssertTrue(stopped.stderr.contains("is not running"), stopped.stderr)
    }
}
