import Affinity
import Demo
import Foundation
import NIOSSL
import Publishing
import XCTest

/// End to end: the configuration `edgesplit init lync` writes for a sample deployment (two SIP
/// domains, a pool of two Front Ends, a Director, Office Web Apps, HTTP autodiscover), served by
/// the in-process data plane, driven with the request shapes of real Lync / Skype for Business
/// clients (`LyncCorpus`). Every member and port is a `RecordingBackend` on its own
/// 127.0.3.x address, so the test sees exactly which member received what.
final class LyncCorpusTests: ProxyTestCase {
    typealias Shape = LyncCorpus.Shape

    /// One member and port: who it stands for and what it recorded.
    struct Endpoint {
        let name: String
        let backend: RecordingBackend
    }

    struct Deployment {
        let proxy: ProxyHarness
        let config: EdgesplitConfig
        let pool: [Endpoint]
        let director: Endpoint
        let directorHTTP: Endpoint
        let owas: Endpoint
        var all: [Endpoint] { pool + [director, directorHTTP, owas] }
        var httpsPort: Int { proxy.ports[0] }
        var httpPort: Int { proxy.ports[1] }
    }

    /// A member that names itself, and answers the address book and group expansion with
    /// IIS's Windows-authentication challenge: two WWW-Authenticate lines.
    private func member(_ name: String, host: String, tls: IssuedCertificate?) throws -> Endpoint {
        let backend = try startBackend(host: host, tls: tls) { request in
            let path = String(decoding: request.target, as: UTF8.self).lowercased()
            if path.hasPrefix("/abs/") || path == "/abs/handler" || path.hasPrefix("/groupexpansion/") {
                return .send(RecordingBackend.response(
                    status: "401 Unauthorized",
                    headers: ["X-Member: \(name)", "WWW-Authenticate: Negotiate", "WWW-Authenticate: NTLM", "Content-Type: text/html"],
                    body: "401 - Unauthorized: Access is denied due to invalid credentials."
                ))
            }
            return .send(RecordingBackend.ok(name, headers: ["X-Member: \(name)"]))
        }
        return Endpoint(name: name, backend: backend)
    }

    private func startDeployment(lync2010: Bool = false) throws -> Deployment {
        let internalCA = TestPKI.internalCA
        let fe1 = try member("fe1:4443", host: "127.0.3.11", tls: try internalCA.issue(commonName: LyncCorpus.webext, dnsNames: [LyncCorpus.webext]))
        let fe2 = try member("fe2:4443", host: "127.0.3.12", tls: try internalCA.issue(commonName: LyncCorpus.webext, dnsNames: [LyncCorpus.webext]))
        let dir = try member("dir1:4443", host: "127.0.3.21", tls: try internalCA.issue(commonName: LyncCorpus.webdirext, dnsNames: [LyncCorpus.webdirext]))
        let dirHTTP = try member("dir1:8080", host: "127.0.3.21", tls: nil)
        let owas = try member("owas1:443", host: "127.0.3.31", tls: try internalCA.issue(commonName: LyncCorpus.owas, dnsNames: [LyncCorpus.owas]))

        let deployment = try LyncDeployment(
            sipDomains: [LyncCorpus.d1, LyncCorpus.d2],
            pools: [LyncDeployment.parseSite("\(LyncCorpus.webext)=\(fe1.backend.member),\(fe2.backend.member)", flag: "--pool")],
            directors: [LyncDeployment.parseSite("\(LyncCorpus.webdirext)=\(dir.backend.member)", flag: "--director")],
            officeWebApps: [LyncDeployment.parseSite("\(LyncCorpus.owas)=\(owas.backend.member)", flag: "--office-web-apps")],
            certificate: .pem(cert: "mem:public.pem", key: "mem:public.key"),
            internalCA: "mem:internal-ca.pem", lync2010: lync2010, httpAutodiscover: true, listenAddress: "127.0.0.1", accessLog: "/dev/null"
        )
        var yaml = LyncTemplate(deployment).render()

        // The template bridges 80 → 8080 on the first hop's hosts; 8080 on this machine is not
        // ours to bind, so the member's port (a parameter of the deployment, not of the
        // template) becomes the local backend's port after checking what was written.
        let rendered = try XCTUnwrap(ConfigLoader.load(yaml: yaml, file: "lync.yaml").config, yaml)
        let httpFarm = try XCTUnwrap(rendered.farms.first { $0.name == "webdirext-http" })
        XCTAssertEqual(httpFarm.members.map(\.text), ["127.0.3.21:8080"], "HTTP autodiscover goes to the Director's host on 8080")
        XCTAssertNil(httpFarm.tls)
        XCTAssertEqual(yaml.components(separatedBy: "\"127.0.3.21:8080\"").count, 2)
        yaml = yaml.replacingOccurrences(of: "\"127.0.3.21:8080\"", with: "\"\(dirHTTP.backend.member)\"")

        let publicCertificate = try TestPKI.publicCA.issue(commonName: LyncCorpus.webext, dnsNames: deployment.publicNames)
        let files = TestPKI.files(["public": publicCertificate], cas: ["internal-ca": internalCA])
        let config = try XCTUnwrap(ConfigLoader.load(yaml: yaml, file: "lync.yaml").config)
        let proxy = try startProxy(yaml, files: files)
        XCTAssertEqual(config.listeners.map(\.name), ["https", "http"])
        return Deployment(proxy: proxy, config: config, pool: [fe1, fe2], director: dir, directorHTTP: dirHTTP, owas: owas)
    }

    /// The pool member source persistence picks for `source` (the data plane's own table).
    private func poolMember(for source: String, in deployment: Deployment) -> Int {
        let farm = deployment.config.farms.first { $0.name == "webext" }!
        let table = FarmMemberTable(farm: farm, mask: .host, seed: UInt32(deployment.config.affinity.seed))
        return table.member(for: ClientAddress(source)!)!
    }

    /// What happened to one shape: the row of the table printed on failure.
    struct Outcome {
        let shape: Shape
        let source: String
        var status: Int?
        var receivedBy: [String] = []
        var setCookie: [String] = []
        var problems: [String] = []
    }

    /// A connection as a client makes it for `shape`: the listener, SNI = the Host's name.
    private func open(for shape: Shape, from source: String, to deployment: Deployment) throws -> TestClient {
        let sni = String(shape.host.split(separator: ":")[0]).lowercased()
        switch shape.listener {
        case .http:
            return try TestClient(port: deployment.httpPort, from: source)
        case .https:
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: TestPKI.publicCA.root.certificatePEMBytes, format: .pem)])
            tls.applicationProtocols = ["http/1.1"]
            if !shape.certified { tls.certificateVerification = .noHostnameVerification }
            return try TestClient(port: deployment.httpsPort, from: source, tls: try NIOSSLContext(configuration: tls), serverName: sni)
        }
    }

    /// Sends `shape` on `connection` (kept open for the next request) or on a connection of
    /// its own.
    private func send(
        _ shape: Shape, from source: String, id: String, to deployment: Deployment, on connection: TestClient? = nil,
        extraHeaders: [String] = []
    ) -> Outcome {
        var outcome = Outcome(shape: shape, source: source)
        do {
            let client = try connection ?? open(for: shape, from: source, to: deployment)
            defer { if connection == nil { client.close() } }
            var head = "\(shape.method) \(shape.target) HTTP/1.1\r\nHost: \(shape.host)\r\nUser-Agent: Microsoft Lync 2013 (corpus)\r\n"
            head += "X-Corpus-Id: \(id)\r\n"
            for line in extraHeaders { head += line + "\r\n" }
            for line in shape.headers { head += line + "\r\n" }
            if shape.method == "POST", !shape.headers.contains(where: { $0.lowercased().hasPrefix("transfer-encoding:") }) { head += "Content-Length: \(shape.body.count)\r\n" }
            head += "\r\n"
            try client.send(Array(head.utf8) + shape.body)
            let response = try client.readResponse(timeout: 10)
            outcome.status = response.status
            outcome.setCookie = response.values("set-cookie")
            if response.status != shape.status { outcome.problems.append("status \(response.status), expected \(shape.status)") }
            for (name, expected) in shape.responseValues where response.values(name) != expected {
                outcome.problems.append("\(name) \(response.values(name)), expected \(expected)")
            }
            if shape.site != .none, response.first("x-member") == nil {
                outcome.problems.append("no X-Member: answered by edgesplit, body \(response.bodyText.prefix(80).debugDescription)")
            }
        } catch {
            outcome.problems.append("client error: \(error)")
        }
        return outcome
    }

    /// Checks what the members recorded for the request tagged `id`.
    private func verify(_ outcome: inout Outcome, id: String, expected: Endpoint?, in deployment: Deployment) {
        let shape = outcome.shape
        var hits: [(Endpoint, RecordingBackend.Request)] = []
        for endpoint in deployment.all {
            for request in endpoint.backend.requests where request.values("x-corpus-id") == [id] { hits.append((endpoint, request)) }
        }
        outcome.receivedBy = hits.map(\.0.name)
        guard let expected else {
            if !hits.isEmpty { outcome.problems.append("reached \(outcome.receivedBy), expected no member") }
            return
        }
        guard hits.count == 1, let hit = hits.first else {
            outcome.problems.append("received by \(outcome.receivedBy), expected exactly \(expected.name)")
            return
        }
        let (endpoint, request) = hit
        if endpoint.name != expected.name { outcome.problems.append("received by \(endpoint.name), expected \(expected.name)") }
        if request.values("host") != [shape.host] { outcome.problems.append("Host \(request.values("host")), expected [\(shape.host)]") }
        if request.target != Array(shape.target.utf8) {
            outcome.problems.append("target \(String(decoding: request.target, as: UTF8.self).debugDescription), expected \(shape.target.debugDescription)")
        }
        if String(decoding: request.parsed.method, as: UTF8.self) != shape.method { outcome.problems.append("method changed") }
        let proto = shape.listener == .https ? "https" : "http"
        if request.values("x-forwarded-proto") != [proto] {
            outcome.problems.append("X-Forwarded-Proto \(request.values("x-forwarded-proto")), expected [\(proto)]")
        }
        if request.values("x-forwarded-for").last?.split(separator: ",").last?.trimmingCharacters(in: .whitespaces) != outcome.source {
            outcome.problems.append("X-Forwarded-For \(request.values("x-forwarded-for")), expected \(outcome.source) last")
        }
        if request.body != shape.body { outcome.problems.append("body \(request.body.count) bytes differ from the \(shape.body.count) sent") }
        for line in shape.headers {
            let name = String(line.split(separator: ":", maxSplits: 1)[0]).lowercased()
            let value = line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
            if request.values(name) != [value] { outcome.problems.append("\(name) not forwarded unchanged") }
        }
    }

    private func table(_ outcomes: [Outcome]) -> String {
        func cut(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }
        var lines = ["id                        | listener host target                                              | expect             | got                 | problems"]
        for o in outcomes {
            let s = o.shape
            let expect = "\(s.status) \(s.site.rawValue)"
            let got = "\(o.status.map(String.init) ?? "-") \(o.receivedBy.isEmpty ? "none" : o.receivedBy.joined(separator: ","))"
            lines.append(
                [cut(s.id, 25).padding(toLength: 25, withPad: " ", startingAt: 0),
                 cut("\(s.listener.rawValue) \(s.method) \(s.host)\(s.target)", 66).padding(toLength: 66, withPad: " ", startingAt: 0),
                 expect.padding(toLength: 18, withPad: " ", startingAt: 0),
                 got.padding(toLength: 19, withPad: " ", startingAt: 0),
                 o.problems.isEmpty ? "ok" : o.problems.joined(separator: "; ")].joined(separator: " | ")
            )
        }
        return lines.joined(separator: "\n")
    }

    /// Runs the whole corpus from one client address and checks every request.
    /// With `keepAlive`, one connection per listener and name carries all its requests, as
    /// a client keeps it (a new one when edgesplit closed it).
    private func runCorpus(
        _ shapes: [Shape], from source: String, on deployment: Deployment, tag: String, keepAlive: Bool = false,
        opened: UnsafeMutablePointer<Int>? = nil, extraHeaders: [String] = []
    ) -> [Outcome] {
        let home = deployment.pool[poolMember(for: source, in: deployment)]
        var connections: [String: TestClient] = [:]
        defer { for client in connections.values { client.close() } }
        return shapes.enumerated().map { index, shape in
            let id = "\(tag)-\(index)-\(shape.id)"
            var connection: TestClient?
            if keepAlive {
                let key = "\(shape.listener) \(shape.host.split(separator: ":")[0].lowercased())"
                if let open = connections[key], !open.isClosed {
                    connection = open
                } else {
                    connection = try? open(for: shape, from: source, to: deployment)
                    connections[key] = connection
                    opened?.pointee += 1
                }
            }
            var outcome = send(shape, from: source, id: id, to: deployment, on: connection, extraHeaders: extraHeaders)
            let expected: Endpoint?
            switch shape.site {
            case .pool: expected = home
            case .director: expected = deployment.director
            case .directorHTTP: expected = deployment.directorHTTP
            case .owas: expected = deployment.owas
            case .none: expected = nil
            }
            // The request is recorded before the response is written; allow for the order.
            if expected != nil { _ = waitUntil(1) { deployment.all.contains { $0.backend.requests.contains { $0.values("x-corpus-id") == [id] } } } }
            verify(&outcome, id: id, expected: expected, in: deployment)
            return outcome
        }
    }

    private func waitUntil(_ timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }

    func testCorpusReachesTheRightMemberAndPortUnchanged() throws {
        let shapes = LyncCorpus.shapes
        XCTAssertGreaterThanOrEqual(shapes.count, 40)
        XCTAssertEqual(Set(shapes.map(\.id)).count, shapes.count, "ids are unique")
        let deployment = try startDeployment()
        let started = Date()
        let outcomes = runCorpus(shapes, from: "127.0.3.101", on: deployment, tag: "a")
        let failed = outcomes.filter { !$0.problems.isEmpty }
        XCTAssertTrue(failed.isEmpty, "\(failed.count) of \(outcomes.count) shapes failed:\n\(table(outcomes))")
        for endpoint in deployment.all { XCTAssertEqual(endpoint.backend.parseErrors, [], endpoint.name) }
        // Every member and port saw traffic: each public name and port is wired to its member.
        let home = deployment.pool[poolMember(for: "127.0.3.101", in: deployment)]
        for endpoint in [home, deployment.director, deployment.directorHTTP, deployment.owas] {
            XCTAssertFalse(endpoint.backend.requests.isEmpty, "\(endpoint.name) received nothing")
        }
        print("LyncCorpusTests: \(shapes.count) shapes in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// The same corpus with one kept-alive connection per name, as browsers and Lync clients
    /// do: pooled and NTLM-bound member connections must not mix requests up.
    func testCorpusOverKeptAliveConnections() throws {
        let deployment = try startDeployment()
        var opened = 0
        let outcomes = runCorpus(LyncCorpus.shapes, from: "127.0.3.105", on: deployment, tag: "k", keepAlive: true, opened: &opened)
        let failed = outcomes.filter { !$0.problems.isEmpty }
        XCTAssertTrue(failed.isEmpty, "\(failed.count) of \(outcomes.count) shapes failed:\n\(table(outcomes))")
        let names = Set(LyncCorpus.shapes.map { "\($0.listener) \($0.host.split(separator: ":")[0].lowercased())" })
        XCTAssertEqual(opened, names.count, "one connection per listener and name, kept alive throughout")
        for endpoint in deployment.all { XCTAssertEqual(endpoint.backend.parseErrors, [], endpoint.name) }
    }

    /// `--lync2010`: pools and Directors keep MS-WSMAN cookie persistence. Every response
    /// to a request without the cookie carries it (401 challenges and HTTP autodiscover
    /// included), Office Web Apps never; the cookie sent back from another address keeps the
    /// client on its Front End and gets no new cookie.
    func testLync2010CookieOnEveryResponseAndHonoured() throws {
        let deployment = try startDeployment(lync2010: true)
        func tokens(_ farm: String) -> [String] {
            PersistenceCookie(farm: deployment.config.farms.first { $0.name == farm }!, seed: deployment.config.affinity.seed).tokens
        }
        let expected: [String: String] = [
            deployment.pool[0].name: tokens("webext")[0], deployment.pool[1].name: tokens("webext")[1],
            deployment.director.name: tokens("webdirext")[0], deployment.directorHTTP.name: tokens("webdirext-http")[0],
        ]
        var outcomes = runCorpus(LyncCorpus.shapes, from: "127.0.3.106", on: deployment, tag: "c")
        for index in outcomes.indices {
            let o = outcomes[index]
            let want = o.receivedBy.first.flatMap { expected[$0] }.map { ["MS-WSMAN=\($0); Path=/; Secure"] } ?? []
            if o.setCookie != want { outcomes[index].problems.append("Set-Cookie \(o.setCookie), expected \(want)") }
        }
        var failed = outcomes.filter { !$0.problems.isEmpty }
        XCTAssertTrue(failed.isEmpty, "\(failed.count) of \(outcomes.count) shapes failed:\n\(table(outcomes))")

        // Back with the cookie of the other Front End than this address would get by source.
        let source = "127.0.3.107"
        let other = 1 - poolMember(for: source, in: deployment)
        let cookie = "Cookie: MS-WSMAN=\(tokens("webext")[other])"
        let poolShapes = LyncCorpus.shapes.filter { $0.site == .pool && $0.body.count < 100_000 }
        outcomes = poolShapes.enumerated().map { index, shape in
            let id = "cookie-\(index)"
            var outcome = send(shape, from: source, id: id, to: deployment, extraHeaders: [cookie])
            _ = waitUntil(1) { deployment.pool.contains { $0.backend.requests.contains { $0.values("x-corpus-id") == [id] } } }
            verify(&outcome, id: id, expected: deployment.pool[other], in: deployment)
            if !outcome.setCookie.isEmpty { outcome.problems.append("Set-Cookie \(outcome.setCookie) although the cookie was valid") }
            return outcome
        }
        failed = outcomes.filter { !$0.problems.isEmpty }
        XCTAssertTrue(failed.isEmpty, "with the cookie: \(failed.count) of \(outcomes.count) failed:\n\(table(outcomes))")
    }

    /// Each client stays on one Front End for everything it sends to the pool, and different
    /// clients spread over both.
    func testPoolClientsStayOnOneMember() throws {
        let deployment = try startDeployment()
        let poolShapes = LyncCorpus.shapes.filter { $0.site == .pool && $0.body.count < 100_000 }
        var homes: Set<String> = []
        for n in 102...104 {
            let source = "127.0.3.\(n)"
            let outcomes = runCorpus(poolShapes, from: source, on: deployment, tag: "s\(n)")
            let failed = outcomes.filter { !$0.problems.isEmpty }
            XCTAssertTrue(failed.isEmpty, "client \(source): \(failed.count) failed:\n\(table(outcomes))")
            let members = Set(outcomes.flatMap(\.receivedBy))
            XCTAssertEqual(members.count, 1, "client \(source) went to \(members)")
            homes.formUnion(members)
        }
        // A UCWA request from more clients: both members take clients.
        for n in 110...125 {
            let source = "127.0.3.\(n)"
            let shape = LyncCorpus.shapes.first { $0.id == "ucwa-v1-applications" }!
            var outcome = send(shape, from: source, id: "spread-\(n)", to: deployment)
            let expected = deployment.pool[poolMember(for: source, in: deployment)]
            _ = waitUntil(1) { expected.backend.requests.contains { $0.values("x-corpus-id") == ["spread-\(n)"] } }
            verify(&outcome, id: "spread-\(n)", expected: expected, in: deployment)
            XCTAssertEqual(outcome.problems, [], "client \(source)")
            homes.formUnion(outcome.receivedBy)
        }
        XCTAssertEqual(homes, Set(deployment.pool.map(\.name)), "clients spread over both Front Ends")
    }
}
