import Foundation
import NIOPosix
import NIOSSL
import X509
import XCTest
import Yams

@testable import Demo

final class DemoDeploymentTests: XCTestCase {
    func testDeploymentPublishesLiveBackends() async throws {
        let demo = try await DemoDeployment(httpsPort: 0, httpPort: 0, on: MultiThreadedEventLoopGroup.singleton)
        do {
            try await checkConfiguration(demo)
            try await checkFiles(demo)
            try await checkBackendsAreReachableWithTheInternalCA(demo)
            checkScenarios(demo)
        } catch {
            try? await demo.stop()
            throw error
        }
        try await demo.stop()
    }

    private func checkConfiguration(_ demo: DemoDeployment) async throws {
        XCTAssertEqual(demo.pool.map(\.name), ["pool-fe1", "pool-fe2"])
        XCTAssertEqual(demo.director.name, "director")
        XCTAssertTrue(demo.backends.allSatisfy(\.usesTLS))

        let yaml = demo.configurationYAML
        let document = try XCTUnwrap(try Yams.load(yaml: yaml) as? [String: Any], yaml)
        XCTAssertEqual(document["instance"] as? String, "demo")
        XCTAssertEqual(document["workers"] as? Int, 2)
        XCTAssertEqual((document["access_log"] as? [String: String])?["format"], "w3c")

        let listeners = try XCTUnwrap(document["listeners"] as? [[String: Any]])
        XCTAssertEqual(listeners.map { $0["name"] as? String }, ["https", "http"])
        XCTAssertEqual(listeners.map { $0["port"] as? Int }, [0, 0])
        XCTAssertEqual(listeners.map { $0["address"] as? String }, ["127.0.0.1", "127.0.0.1"])
        let certificates = try XCTUnwrap((listeners[0]["tls"] as? [String: Any])?["certificates"] as? [[String: String]])
        XCTAssertEqual(certificates, [["cert": "demo:public.pem", "key": "demo:public.key"]])

        let farms = try XCTUnwrap(document["farms"] as? [[String: Any]])
        XCTAssertEqual(farms.map { $0["name"] as? String }, ["pool", "director"])
        XCTAssertEqual(farms[0]["members"] as? [String], demo.pool.map { "127.0.0.1:\($0.port)" })
        XCTAssertEqual(farms[1]["members"] as? [String], ["127.0.0.1:\(demo.director.port)"])
        XCTAssertEqual(farms[0]["tls"] as? [String: String], ["ca": "demo:internal-ca.pem", "server_name": "pool.contoso.test"])
        XCTAssertEqual(farms[1]["tls"] as? [String: String], ["ca": "demo:internal-ca.pem", "server_name": "director.contoso.test"])
        XCTAssertEqual(farms[0]["persistence"] as? String, "source")

        let rules = try XCTUnwrap(document["rules"] as? [[String: Any]])
        func rule(for name: String, listener: String) -> [String: Any]? {
            rules.first { rule in
                (rule["public_names"] as? [String] ?? []).contains(name)
                    && (rule["listeners"] as? [String]).map { $0.contains(listener) } ?? true
            }
        }
        XCTAssertEqual(rule(for: "webext.contoso.test", listener: "https")?["farm"] as? String, "pool")
        for name in ["webdirext.contoso.test", "meet.contoso.test", "dialin.contoso.test", "lyncdiscover.contoso.test"] {
            let published = try XCTUnwrap(rule(for: name, listener: "https"), name)
            XCTAssertEqual(published["farm"] as? String, "director", name)
            XCTAssertEqual(published["paths"] as? [String], ["/*"], name)
            XCTAssertEqual(published["forward_original_host"] as? Bool, true, name)
            XCTAssertEqual(published["timeouts"] as? [String: String], ["connect": "5s", "response": "960s", "idle": "1800s"], name)
        }
        XCTAssertEqual(rule(for: "lyncdiscover.contoso.test", listener: "http")?["farm"] as? String, "director")
        XCTAssertNil(rule(for: "webext.contoso.test", listener: "http"), "only autodiscover is published over HTTP")
        let admin = try XCTUnwrap(rule(for: "admin.contoso.test", listener: "https"))
        XCTAssertEqual(admin["action"] as? String, "deny")
        XCTAssertNil(admin["farm"])
    }

    private func checkFiles(_ demo: DemoDeployment) async throws {
        XCTAssertEqual(demo.filePaths, ["demo:internal-ca.pem", "demo:public.key", "demo:public.pem"])
        let publicPEM = String(decoding: try demo.readFile("demo:public.pem"), as: UTF8.self)
        let publicCertificate = try Certificate(pemEncoded: publicPEM)
        XCTAssertEqual(publicCertificate, demo.publicCertificate.certificate)
        let names = try XCTUnwrap(try publicCertificate.extensions.subjectAlternativeNames)
        for name in DemoDeployment.publishedNames + ["*.contoso.test", "admin.contoso.test"] {
            XCTAssertTrue(names.contains(.dnsName(name)), name)
        }
        let key = try Certificate.PrivateKey(pemEncoded: String(decoding: try demo.readFile("demo:public.key"), as: UTF8.self))
        XCTAssertEqual(key.publicKey, publicCertificate.publicKey)
        _ = try NIOSSLPrivateKey(bytes: try demo.readFile("demo:public.key"), format: .pem)
        let ca = try Certificate(pemEncoded: String(decoding: try demo.readFile("demo:internal-ca.pem"), as: UTF8.self))
        XCTAssertEqual(ca, demo.internalCA.root.certificate)

        XCTAssertThrowsError(try demo.readFile("demo:nope.pem")) { error in
            guard case .noSuchFile(let path, let available) = error as? DemoError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "demo:nope.pem")
            XCTAssertEqual(available, demo.filePaths)
        }
        XCTAssertThrowsError(try demo.readFile("/etc/passwd"))
        XCTAssertEqual(try demo.fileReader("demo:public.pem"), try demo.readFile("demo:public.pem"))
        XCTAssertThrowsError(try demo.fileReader("demo:other"))
    }

    /// What the proxy will do when it re-encrypts: trust only the internal CA and verify the
    /// farm's `server_name`.
    private func checkBackendsAreReachableWithTheInternalCA(_ demo: DemoDeployment) async throws {
        let caPEM = String(decoding: try demo.readFile("demo:internal-ca.pem"), as: UTF8.self)
        for (backend, serverName) in [(demo.pool[0], "pool.contoso.test"), (demo.pool[1], "pool.contoso.test"), (demo.director, "director.contoso.test")] {
            let tls = try RawHTTPConnection.TLS(trusting: caPEM, serverName: serverName)
            try await RawHTTPConnection.with(port: backend.port, tls: tls) { connection in
                try await connection.request("/health")
                let response = try await connection.readResponse()
                XCTAssertEqual(response.status, 200)
                XCTAssertEqual(response.values("X-Demo-Member"), [backend.name])
            }
        }
        // The Director's certificate is not valid for the pool's name.
        let wrong = try RawHTTPConnection.TLS(trusting: caPEM, serverName: "pool.contoso.test")
        do {
            try await RawHTTPConnection.with(port: demo.director.port, tls: wrong) { connection in
                try await connection.request("/health")
                _ = try await connection.readResponse()
            }
            XCTFail("the Director's certificate verified for pool.contoso.test")
        } catch {}
    }

    private func checkScenarios(_ demo: DemoDeployment) {
        let examples = demo.curlExamples
        XCTAssertEqual(examples.count, 9)
        XCTAssertTrue(examples.allSatisfy { $0.hasPrefix("curl ") && $0.contains("--resolve ") })
        XCTAssertTrue(examples.contains { $0.contains("--resolve admin.contoso.test:0:127.0.0.1") })

        let live = demo.scenarios(httpsPort: 8443, httpPort: 8080)
        let commands = live.map(\.command).joined(separator: "\n")
        for fragment in [
            "--resolve meet.contoso.test:8443:127.0.0.1 'https://meet.contoso.test:8443/",
            "--resolve dialin.contoso.test:8443:127.0.0.1",
            "'https://webext.contoso.test:8443/abs/handler/",
            "'https://webext.contoso.test:8443/Autodiscover/AutodiscoverService.svc/root'",
            "/ucwa/v1/applications/101/events?ack=1&timeout=3'",
            "--resolve lyncdiscover.contoso.test:8080:127.0.0.1 'http://lyncdiscover.contoso.test:8080/",
            "'https://admin.contoso.test:8443/'",
            "'https://unknown.contoso.test:8443/'",
        ] {
            XCTAssertTrue(commands.contains(fragment), fragment)
        }
        XCTAssertTrue(live.allSatisfy { !$0.title.isEmpty && !$0.expectation.isEmpty })
        XCTAssertTrue(live.filter { $0.command.contains("https://") }.allSatisfy { $0.command.contains(" -k") })
    }
}
