import Affinity
import Foundation
import Publishing
import XCTest

/// Two edgesplit instances with one configuration agree on every client's member without
/// sharing state — by source address (`persistence: source`) and by the MS-WSMAN cookie one
/// of them issued (`persistence: cookie`) — and a drained member gets no new exchange under
/// load. Clients are distinct source addresses in 127.0.0.0/8, bound before connecting.
struct AgreementFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

final class PersistenceAgreementTests: ProxyTestCase {
    static let names = ["fe1", "fe2", "fe3"]
    static let seed: UInt32 = 4242
    static let cookieKey = "edge-hosts-share-this-key"

    private func startMembers() throws -> [RecordingBackend] {
        try Self.names.map { name in
            try startBackend { _ in .send(RecordingBackend.ok(name, headers: ["X-Member: \(name)"])) }
        }
    }

    private func yaml(_ members: [RecordingBackend], persistence: String) -> String {
        let list = members.map { "\"\($0.member)\"" }.joined(separator: ", ")
        let cookie = persistence == "cookie" ? ", cookie_key: \"\(Self.cookieKey)\"" : ""
        return """
            affinity: { ipv4_prefix: 32, ipv6_prefix: 128, seed: \(Self.seed) }
            listeners:
              - { name: http, address: 127.0.0.1, port: 1 }
            farms:
              - { name: webext, members: [\(list)], persistence: \(persistence)\(cookie) }
            rules:
              - { name: webext, public_names: [webext.contoso.test], farm: webext }
            """
    }

    private func farm(_ yaml: String) throws -> Farm {
        try XCTUnwrap(ConfigLoader.load(yaml: yaml, file: "t.yaml").config?.farms.first)
    }

    struct Answer: Equatable {
        var member: String
        var setCookie: [String]
    }

    /// One request on a fresh connection from `source`.
    private func ask(_ port: Int, from source: String, cookie: String? = nil, target: String = "/ucwa/v1/applications") throws -> Answer {
        let client = try TestClient(port: port, from: source)
        defer { client.close() }
        try client.send(get(target, headers: cookie.map { ["Cookie: \($0)"] } ?? []))
        let response = try client.readResponse()
        guard response.status == 200 else { throw AgreementFailure(message: "\(source): status \(response.status) \(response.bodyText)") }
        return Answer(member: response.bodyText, setCookie: response.values("set-cookie"))
    }

    func testSourcePersistenceAgreesAcrossInstances() throws {
        let members = try startMembers()
        let config = yaml(members, persistence: "source")
        let a = try startProxy(config, workers: 1)
        let b = try startProxy(config, workers: 2)
        let table = FarmMemberTable(farm: try farm(config), mask: .host, seed: Self.seed)

        var disagreements: [String] = []
        var spread: [String: Int] = [:]
        for i in 1...200 {
            let source = "127.0.5.\(i)"
            let fromA = try ask(a.port, from: source)
            let fromB = try ask(b.port, from: source)
            let expected = Self.names[table.member(for: ClientAddress(source)!)!]
            if fromA.member != fromB.member || fromA.member != expected {
                disagreements.append("\(source): A \(fromA.member), B \(fromB.member), table \(expected)")
            }
            spread[fromA.member, default: 0] += 1
        }
        XCTAssertEqual(disagreements, [], "\(disagreements.count) of 200 clients disagree")
        XCTAssertEqual(Set(spread.keys), Set(Self.names), "200 clients use every member: \(spread)")
        for (member, count) in spread { XCTAssertGreaterThan(count, 30, "\(member): \(spread)") }

        // One client, 50 connections, alternating between the instances: one member.
        let answers = try (0..<50).map { n in try ask(n % 2 == 0 ? a.port : b.port, from: "127.0.5.77").member }
        XCTAssertEqual(Set(answers).count, 1, "\(answers)")
        XCTAssertEqual(answers.first, Self.names[table.member(for: ClientAddress("127.0.5.77")!)!])
    }

    func testCookieIssuedByOneInstanceIsHonouredByTheOther() throws {
        let members = try startMembers()
        let config = yaml(members, persistence: "cookie")
        let a = try startProxy(config, workers: 1)
        let b = try startProxy(config, workers: 2)
        let farm = try farm(config)
        let table = FarmMemberTable(farm: farm, mask: .host, seed: Self.seed)
        let cookie = PersistenceCookie(farm: farm, seed: Self.seed)
        XCTAssertEqual(cookie.name, "MS-WSMAN")

        var problems: [String] = []
        var overridden = 0
        for i in 1...200 {
            let source = "127.0.5.\(i)"
            let other = "127.0.6.\(i)"
            // No cookie: both instances pick the same member and issue the same token.
            let fromA = try ask(a.port, from: source)
            let fromB = try ask(b.port, from: source)
            guard let index = Self.names.firstIndex(of: fromA.member) else {
                problems.append("\(source): unknown member \(fromA.member)")
                continue
            }
            let setCookie = "MS-WSMAN=\(cookie.tokens[index]); Path=/; Secure"
            if fromA.setCookie != [setCookie] { problems.append("\(source): A set \(fromA.setCookie), expected [\(setCookie)]") }
            if fromB != fromA { problems.append("\(source): B \(fromB), A \(fromA)") }
            // A's token, sent to B from another address: B goes to A's member, sets nothing.
            let token = fromA.setCookie.first.map { String($0.split(separator: ";")[0]) } ?? ""
            let withCookie = try ask(b.port, from: other, cookie: "lang=en-US; \(token)")
            if withCookie != Answer(member: fromA.member, setCookie: []) {
                problems.append("\(other) with \(token): B \(withCookie), expected \(fromA.member) and no Set-Cookie")
            }
            if table.member(for: ClientAddress(other)!)! != index { overridden += 1 }
        }
        XCTAssertEqual(problems, [], "\(problems.count) problems")
        XCTAssertGreaterThan(overridden, 50, "the cookie, not the address, chose the member for most of them")

        // One client, 50 connections from 50 addresses, alternating instances, with the cookie.
        let home = try ask(a.port, from: "127.0.7.1")
        let token = String(home.setCookie[0].split(separator: ";")[0])
        let answers = try (1...50).map { n in try ask(n % 2 == 0 ? a.port : b.port, from: "127.0.7.\(n + 1)", cookie: token) }
        XCTAssertEqual(Set(answers.map(\.member)), [home.member])
        XCTAssertEqual(answers.filter { !$0.setCookie.isEmpty }.count, 0)
        // And 50 connections from one address without a cookie: one member, a cookie every time.
        let bare = try (0..<50).map { n in try ask(n % 2 == 0 ? a.port : b.port, from: "127.0.7.200") }
        XCTAssertEqual(Set(bare.map(\.member)).count, 1)
        XCTAssertEqual(Set(bare.map(\.setCookie)).count, 1)
        XCTAssertEqual(bare[0].setCookie.count, 1)
    }

    /// A request loop from 40 clients over two workers while one member is drained: no
    /// client sees an error, and no request sent after `setDrained` returned reaches it.
    func testDrainUnderLoadSendsNothingNewToTheDrainedMember() throws {
        let members = try startMembers()
        let config = yaml(members, persistence: "source")
        let proxy = try startProxy(config, workers: 2)
        let table = FarmMemberTable(farm: try farm(config), mask: .host, seed: Self.seed)
        let sources = (1...40).map { "127.0.8.\($0)" }
        let drained = 0
        XCTAssertGreaterThan(sources.filter { table.member(for: ClientAddress($0)!) == drained }.count, 5)

        final class Shared: @unchecked Sendable {
            let lock = NSLock()
            var afterDrain = false
            var stop = false
            var errors: [String] = []
            var sent = 0
            var sentAfter = 0
        }
        let shared = Shared()
        let port = proxy.port
        let threads = 4
        let done = DispatchGroup()
        for t in 0..<threads {
            done.enter()
            Thread {
                defer { done.leave() }
                var k = t
                while !shared.lock.withLock({ shared.stop }) {
                    let source = sources[k % sources.count]
                    k += threads
                    do {
                        let client = try TestClient(port: port, from: source)
                        defer { client.close() }
                        for _ in 0..<3 {
                            let after = shared.lock.withLock { () -> Bool in
                                shared.sent += 1
                                if shared.afterDrain { shared.sentAfter += 1 }
                                return shared.afterDrain
                            }
                            try client.send("GET /ucwa/v1/applications HTTP/1.1\r\nHost: webext.contoso.test\r\nX-After-Drain: \(after ? 1 : 0)\r\n\r\n")
                            let response = try client.readResponse()
                            if response.status != 200 { shared.lock.withLock { shared.errors.append("\(source): \(response.status)") } }
                        }
                    } catch {
                        shared.lock.withLock { shared.errors.append("\(source): \(error)") }
                    }
                }
            }.start()
        }
        Thread.sleep(forTimeInterval: 1.0)
        let beforeDrain = members[drained].requests.count
        try proxy.server.setDrained(farm: "webext", member: members[drained].member, true).wait()
        shared.lock.withLock { shared.afterDrain = true }
        Thread.sleep(forTimeInterval: 1.5)
        shared.lock.withLock { shared.stop = true }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)

        let (errors, sent, sentAfter) = shared.lock.withLock { (shared.errors, shared.sent, shared.sentAfter) }
        XCTAssertEqual(errors, [], "client errors")
        XCTAssertGreaterThan(beforeDrain, 0, "the member took load before the drain")
        XCTAssertGreaterThan(sentAfter, 20, "the loop kept going after the drain (\(sent) sent)")
        let late = members[drained].requests.filter { $0.values("x-after-drain") == ["1"] }
        XCTAssertEqual(late.count, 0, "requests sent after setDrained returned reached the drained member")
        let others = members.indices.filter { $0 != drained }.map { members[$0].requests.filter { $0.values("x-after-drain") == ["1"] }.count }
        XCTAssertEqual(others.reduce(0, +), sentAfter, "every request after the drain was answered by another member")
        print("PersistenceAgreementTests: drain under load: \(sent) requests, \(sentAfter) after the drain, drained member took \(beforeDrain) before")
    }
    /// `setDrained` returns once every worker knows: a request sent on an open connection the
    /// instant it returns — on either worker — goes to another member. Repeated, because the
    /// window between the monitor's verdict and a worker applying it is short.
    func testDrainTakesEffectOnEveryWorkerBeforeItReturns() throws {
        let members = try startMembers()
        let config = yaml(members, persistence: "source")
        let proxy = try startProxy(config, workers: 2)
        let table = FarmMemberTable(farm: try farm(config), mask: .host, seed: Self.seed)
        let sources = (1...250).map { "127.0.9.\($0)" }.filter { table.member(for: ClientAddress($0)!) == 0 }.prefix(12)
        XCTAssertGreaterThanOrEqual(sources.count, 8)
        let clients = try sources.map { try TestClient(port: proxy.port, from: $0) }
        defer { for client in clients { client.close() } }
        for client in clients {
            try client.send(get("/warm"))
            XCTAssertEqual(try client.readResponse().bodyText, "fe1")
        }
        var late: [String] = []
        for round in 0..<40 {
            try proxy.server.setDrained(farm: "webext", member: members[0].member, true).wait()
            for client in clients { try client.send(get("/round-\(round)")) }
            for (n, client) in clients.enumerated() {
                let answer = try client.readResponse().bodyText
                if answer == "fe1" { late.append("round \(round), client \(sources[sources.startIndex + n])") }
            }
            try proxy.server.setDrained(farm: "webext", member: members[0].member, false).wait()
            for client in clients { try client.send(get("/back-\(round)")) }
            for client in clients { _ = try client.readResponse() }
        }
        XCTAssertEqual(late, [], "requests sent right after setDrained returned reached the drained member")
    }
}
