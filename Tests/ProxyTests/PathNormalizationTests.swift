import XCTest

/// Rules match the path the member (IIS) will see, so a deny rule placed before an allow-all
/// rule cannot be passed by writing the denied folder another way; the target still reaches
/// the member byte for byte.
final class PathNormalizationTests: ProxyTestCase {
    func testDenyBeforeAllowCannotBeBypassed() throws {
        let member = try startBackend()
        let proxy = try startProxy(
            """
            listeners:
              - { name: http, address: 127.0.0.1, port: 1 }
            farms:
              - { name: pool, members: ["\(member.member)"] }
            rules:
              - { name: no-admin, public_names: [\(Self.publicName)], paths: ["/admin/*"], action: deny }
              - { name: web, public_names: [\(Self.publicName)], farm: pool }
            """)
        let expected: [(target: String, status: Int)] = [
            ("/%61dmin/x", 403),
            ("/admin%2fx", 400),
            ("/x/../admin/x", 403),
            ("/./admin/x", 403),
            ("//admin/x", 403),
            ("/admin\\x", 403),
            ("/admin;x/y", 403),
        ]
        for row in expected {
            XCTAssertEqual(try exchange(proxy.ports[0], get(row.target)).status, row.status, row.target)
        }
        XCTAssertEqual(member.bytesReceived, 0, "a bypass reached the member")
        XCTAssertEqual(try exchange(proxy.ports[0], get("/meet/x")).status, 200)
    }

    func testEncodedSlashUnderAllowAllReachesTheMemberUnchanged() throws {
        let member = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [member.member]))
        let response = try exchange(proxy.ports[0], get("/meet/x%2Fy?WopiSrc=a%2Fb"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(member.requests.map { String(decoding: $0.target, as: UTF8.self) }, ["/meet/x%2Fy?WopiSrc=a%2Fb"])
    }

    func testUnreadablePathsAre400() throws {
        let member = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [member.member]))
        for target in ["/a%00b", "/a%zz", "/a%4"] {
            XCTAssertEqual(try exchange(proxy.ports[0], get(target)).status, 400, target)
        }
        XCTAssertEqual(member.bytesReceived, 0)
    }
}
