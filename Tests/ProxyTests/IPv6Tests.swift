import XCTest

/// IPv6 on both sides over ::1: the client address as the member sees it, source networks
/// and a bracketed member Host.
final class IPv6Tests: ProxyTestCase {
    func testIPv6ClientAndMember() throws {
        let backend = try RecordingBackend(host: "::1")
        addTeardownBlock { backend.stop() }
        let proxy = try startProxy(
            """
            listeners:
              - { name: v6, address: "::1", port: 1 }
            farms:
              - { name: pool, members: ["\(backend.member)"] }
            rules:
              - { name: lan-only, public_names: [lan.contoso.test], source_networks: [10.0.0.0/8, "fd00::/8"], farm: pool }
              - { name: web, public_names: [webext.contoso.test], source_networks: ["::1/128"], forward_original_host: false, farm: pool }
            """
        )
        let client = try TestClient(port: proxy.port, host: "::1")
        addTeardownBlock { client.close() }
        try client.send(get("/", headers: ["X-Forwarded-For: 192.0.2.1"]))
        XCTAssertEqual(try client.readResponse().status, 200)
        let request = try XCTUnwrap(backend.requests.first)
        XCTAssertEqual(request.values("x-forwarded-for"), ["192.0.2.1, ::1"])
        XCTAssertEqual(request.values("host"), ["[::1]:\(backend.port)"])

        try client.send(get("/", host: "lan.contoso.test"))
        XCTAssertEqual(try client.readResponse().status, 403)
        XCTAssertEqual(backend.requests.count, 1)
    }
}
