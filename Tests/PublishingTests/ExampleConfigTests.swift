import Affinity
import Publishing
import XCTest

final class ExampleConfigTests: XCTestCase {
    func testExampleLoadsWithExactValues() throws {
        let result = load(exampleYAML)
        XCTAssertEqual(result.diagnostics.map(\.description), [], "the example has nothing to complain about")
        let config = try XCTUnwrap(result.config)
        XCTAssertEqual(config.file, "edgesplit.yaml")
        XCTAssertEqual(config.instance, "contoso")
        XCTAssertEqual(config.workers, 2)
        XCTAssertEqual(config.affinity, AffinitySettings(ipv4Prefix: 32, ipv6Prefix: 128, seed: 1234))
        XCTAssertEqual(config.accessLog, AccessLogSettings(path: "/var/log/edgesplit/access.log", format: .w3c, position: pos(4, 13)))

        XCTAssertEqual(config.listeners.count, 2)
        let https = config.listeners[0]
        XCTAssertEqual(https.name, "https")
        XCTAssertEqual(https.address, "0.0.0.0")
        XCTAssertEqual(https.port, 443)
        XCTAssertEqual(https.position, pos(6, 5))
        XCTAssertTrue(https.isWildcard)
        let tls = try XCTUnwrap(https.tls)
        XCTAssertEqual(tls.minVersion, .tls12)
        XCTAssertEqual(tls.certificates, [
            CertificateSource(kind: .pem(cert: "/etc/edgesplit/webext.pem", key: "/etc/edgesplit/webext.key"), position: pos(11, 11)),
            CertificateSource(kind: .pfx(path: "/etc/edgesplit/meet.pfx", passwordFile: "/etc/edgesplit/meet.pass"), position: pos(12, 11)),
        ])
        XCTAssertEqual(config.listeners[1], Listener(name: "http", address: "0.0.0.0", port: 80, tls: nil, position: pos(14, 5)))

        XCTAssertEqual(config.farms.count, 1)
        let farm = config.farms[0]
        XCTAssertEqual(farm.name, "pool01")
        XCTAssertEqual(farm.members.map(\.host), ["10.0.0.11", "fe2.contoso.local"])
        XCTAssertEqual(farm.members.map(\.port), [4443, 4443])
        XCTAssertEqual(farm.members.map(\.text), ["10.0.0.11:4443", "fe2.contoso.local:4443"])
        XCTAssertEqual(farm.members.map(\.isLiteralAddress), [true, false])
        XCTAssertEqual(farm.members[1].position, pos(17, 34))
        XCTAssertEqual(farm.tls, FarmTLS(ca: "/etc/edgesplit/internal-root.pem", serverName: "pool01.contoso.local", verify: true, position: pos(18, 10)))
        XCTAssertEqual(farm.persistence, .source)
        XCTAssertEqual(farm.cookieName, "MS-WSMAN")

        XCTAssertEqual(config.rules.count, 2)
        let webext = config.rules[0]
        XCTAssertEqual(webext.name, "webext")
        XCTAssertEqual(webext.listeners, ["https"])
        XCTAssertEqual(webext.publicNames.map(\.text), ["webext.contoso.com"])
        XCTAssertEqual(webext.paths, [.all])
        XCTAssertEqual(webext.farm, "pool01")
        XCTAssertEqual(webext.action, .allow)
        XCTAssertTrue(webext.forwardOriginalHost)
        XCTAssertEqual(webext.sourceNetworks.map(\.description), ["0.0.0.0/0", "::/0"])
        XCTAssertEqual(webext.timeouts, RuleTimeouts(connect: .seconds(5), response: .seconds(960), idle: .seconds(1800)))
        XCTAssertEqual(webext.maxBody, 500 * 1024 * 1024)
        XCTAssertEqual(webext.position, pos(22, 5))

        let block = config.rules[1]
        XCTAssertEqual(block.name, "block-admin")
        XCTAssertNil(block.listeners)
        XCTAssertEqual(block.publicNames.map(\.text), ["admin.contoso.com"])
        XCTAssertEqual(block.action, .deny)
        XCTAssertNil(block.farm)
        XCTAssertNil(block.maxBody)
        XCTAssertEqual(block.position, pos(32, 5))

        XCTAssertEqual(config.http, HTTPSettings(maxRequestLine: 16384, maxHeaderBytes: 65536))
        XCTAssertEqual(config.timeouts, GlobalTimeouts(tlsHandshake: .seconds(10), requestHead: .seconds(30), shutdown: .seconds(30)))
    }

    func testDefaults() throws {
        let config = try loadValid(minimalYAML)
        XCTAssertEqual(config.instance, "edgesplit")
        XCTAssertNil(config.workers)
        XCTAssertEqual(config.affinity, AffinitySettings(ipv4Prefix: 32, ipv6Prefix: 128, seed: 0))
        XCTAssertNil(config.accessLog)
        XCTAssertNil(config.listeners[0].tls)
        let farm = config.farms[0]
        XCTAssertNil(farm.tls)
        XCTAssertEqual(farm.persistence, .source)
        XCTAssertEqual(farm.cookieName, "MS-WSMAN")
        let rule = config.rules[0]
        XCTAssertNil(rule.listeners)
        XCTAssertEqual(rule.paths, [.all])
        XCTAssertEqual(rule.action, .allow)
        XCTAssertTrue(rule.forwardOriginalHost)
        XCTAssertEqual(rule.sourceNetworks, SourceNetwork.any)
        XCTAssertEqual(rule.timeouts, RuleTimeouts(connect: .seconds(5), response: .seconds(960), idle: .seconds(1800)))
        XCTAssertNil(rule.maxBody)
        XCTAssertEqual(config.http, HTTPSettings(maxRequestLine: 16 * 1024, maxHeaderBytes: 64 * 1024))
        XCTAssertEqual(config.timeouts, GlobalTimeouts(tlsHandshake: .seconds(10), requestHead: .seconds(30), shutdown: .seconds(30)))
    }

    func testOtherSpellings() throws {
        let config = try loadValid("""
        instance: lab-2
        access_log: { path: "-", format: json }
        listeners:
          - { name: v6, address: "::", port: 443, tls: { certificates: [{ pfx: /p.pfx }], min_version: "1.3" } }
        farms:
          - name: owas
            members: ["[2001:db8::1]:443", "owas01.contoso.local:443"]
            tls: { verify: false }
            persistence: cookie
            cookie_name: EDGE
            cookie_key: "0123456789abcdef0123"
        rules:
          - name: owas
            public_names: ["*.contoso.com", WebExt.Contoso.COM.]
            paths: ["/abs/*", /meet]
            farm: owas
            forward_original_host: no
            source_networks: [10.0.0.0/8, "2001:db8::/32", 192.0.2.7]
            timeouts: { connect: 500ms, response: 15m, idle: 2 }
            max_body: 30MB
        timeouts: { shutdown: 0 }
        """)
        XCTAssertEqual(config.instance, "lab-2")
        XCTAssertEqual(config.accessLog?.isStandardOutput, true)
        XCTAssertEqual(config.accessLog?.format, .json)
        XCTAssertEqual(config.listeners[0].address, "::")
        XCTAssertEqual(config.listeners[0].tls?.minVersion, .tls13)
        XCTAssertEqual(config.listeners[0].tls?.certificates.first?.kind, .pfx(path: "/p.pfx", passwordFile: nil))
        let farm = config.farms[0]
        XCTAssertEqual(farm.members.map(\.host), ["2001:db8::1", "owas01.contoso.local"])
        XCTAssertEqual(farm.members.map(\.isLiteralAddress), [true, false])
        XCTAssertEqual(farm.tls?.verify, false)
        XCTAssertNil(farm.tls?.ca)
        XCTAssertEqual(farm.persistence, .cookie)
        XCTAssertEqual(farm.cookieName, "EDGE")
        let rule = config.rules[0]
        XCTAssertEqual(rule.publicNames.map(\.text), ["*.contoso.com", "webext.contoso.com"])
        XCTAssertEqual(rule.paths.map(\.text), ["/abs/*", "/meet"])
        XCTAssertFalse(rule.forwardOriginalHost)
        XCTAssertEqual(rule.sourceNetworks.map(\.description), ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"])
        XCTAssertEqual(rule.timeouts, RuleTimeouts(connect: .milliseconds(500), response: .seconds(900), idle: .seconds(2)))
        XCTAssertEqual(rule.maxBody, 30_000_000)
        XCTAssertEqual(config.timeouts.shutdown, .zero)
    }
}
