import Foundation
import NIOHTTP1
import XCTest

@testable import Admin
@testable import AdminServer

/// What each request on the admin listener gets, and the page. No sockets.
final class DashboardRequestTests: XCTestCase {
    private let token = "3f9a0c17d2e84b6b"

    private func access(token: String? = nil, basic: String? = nil, changes: Bool = false) -> DashboardAccess {
        DashboardAccess(token: token.map { Array($0.utf8) }, basic: basic.map { Array($0.utf8) }, allowChanges: changes)
    }

    private func decide(
        _ method: HTTPMethod, _ uri: String, _ headers: [(String, String)] = [], body: String = "", access: DashboardAccess?
    ) -> DashboardRequest {
        DashboardRequest.decide(method: method, uri: uri, headers: HTTPHeaders(headers), body: Array(body.utf8), access: access)
    }

    func testRoutes() {
        let open = access()
        XCTAssertEqual(decide(.GET, "/metrics", access: nil), .metrics)
        XCTAssertEqual(decide(.GET, "/metrics?x=1", access: open), .metrics)
        XCTAssertEqual(decide(.POST, "/metrics", access: open), .refuse(.methodNotAllowed, "use GET /metrics\n"))
        XCTAssertEqual(decide(.GET, "/dashboard", access: nil), .refuse(.notFound, "not found: try /metrics\n"))
        XCTAssertEqual(decide(.GET, "/dashboard", access: open), .page)
        XCTAssertEqual(decide(.GET, "/dashboard/stats", access: open), .stats)
        XCTAssertEqual(decide(.GET, "/dashboardx", access: open), .refuse(.notFound, "not found: try /metrics or /dashboard\n"))
        XCTAssertEqual(decide(.GET, "/dashboard/other", access: open), .refuse(.notFound, "not found: try /dashboard\n"))
        XCTAssertEqual(decide(.DELETE, "/dashboard/stats", access: open), .refuse(.methodNotAllowed, "method not allowed\n"))
        XCTAssertEqual(decide(.GET, "/dashboard/drain", access: open), .refuse(.methodNotAllowed, "method not allowed\n"))
    }

    func testTokenIsRequiredAndCanBeHandedOverOnce() {
        let guarded = access(token: token)
        let unauthorized = DashboardRequest.refuse(.unauthorized, "authentication required\n")
        XCTAssertEqual(decide(.GET, "/dashboard", access: guarded), unauthorized)
        XCTAssertEqual(decide(.GET, "/dashboard/stats", access: guarded), unauthorized)
        XCTAssertEqual(decide(.GET, "/dashboard/stats?token=\(token)", access: guarded), unauthorized, "only the page takes ?token=")
        XCTAssertEqual(decide(.GET, "/dashboard?token=wrong", access: guarded), unauthorized)
        XCTAssertEqual(decide(.GET, "/dashboard?token=\(token)", access: guarded), .acceptToken(token))
        XCTAssertEqual(decide(.GET, "/dashboard/stats", [("Authorization", "Bearer \(token)")], access: guarded), .stats)
        XCTAssertEqual(decide(.GET, "/dashboard", [("Cookie", "edgesplit_dashboard=\(token)")], access: guarded), .page)
        XCTAssertEqual(guarded.challenge, "Bearer realm=\"edgesplit dashboard\"")
        XCTAssertTrue(access(token: token, basic: "a:b").challenge.hasPrefix("Basic realm="))
    }

    func testChangesNeedPermissionCredentialsHeaderAndABody() {
        let auth = ("Authorization", "Bearer \(token)")
        let header = (DashboardRequest.changeHeader, "1")
        let body = #"{"farm": "pool", "member": "127.0.0.1:4443"}"#
        let allowed = access(token: token, changes: true)
        XCTAssertEqual(decide(.POST, "/dashboard/drain", [auth, header], body: body, access: allowed),
                       .change(drain: true, farm: "pool", member: "127.0.0.1:4443"))
        XCTAssertEqual(decide(.POST, "/dashboard/undrain", [auth, header], body: body, access: allowed),
                       .change(drain: false, farm: "pool", member: "127.0.0.1:4443"))
        XCTAssertEqual(decide(.POST, "/dashboard/drain", [header], body: body, access: allowed),
                       .refuse(.unauthorized, "authentication required\n"))
        if case .refuse(let status, let text) = decide(.POST, "/dashboard/drain", [auth], body: body, access: allowed) {
            XCTAssertEqual(status, .forbidden)
            XCTAssertTrue(text.contains("X-Edgesplit-Dashboard"), text)
        } else {
            XCTFail("a change without the header is refused")
        }
        if case .refuse(let status, _) = decide(.POST, "/dashboard/drain", [auth, header], body: "farm=pool", access: allowed) {
            XCTAssertEqual(status, .badRequest)
        } else {
            XCTFail("a body that is not the JSON object is refused")
        }
        // Read-only by default, and never without credentials even if allowed.
        for readOnly in [access(token: token), access(changes: true)] {
            if case .refuse(let status, let text) = decide(.POST, "/dashboard/drain", [auth, header], body: body, access: readOnly) {
                XCTAssertEqual(status, .forbidden)
                XCTAssertTrue(text.contains("allow_changes"), text)
            } else {
                XCTFail("changes are off")
            }
        }
    }

    func testQueryDecoding() {
        XCTAssertEqual(DashboardRequest.query("/dashboard?token=a%2Bb&x=1+2&bad"), ["token": "a+b", "x": "1 2"])
        XCTAssertEqual(DashboardRequest.query("/dashboard"), [:])
    }

    func testPageIsSelfContained() {
        // The SVG namespace name is a name, not a fetch.
        let page = String(decoding: DashboardPage.bytes(allowChanges: false), as: UTF8.self)
            .replacingOccurrences(of: "\"http://www.w3.org/2000/svg\"", with: "")
        XCTAssertTrue(page.contains("data-changes=\"false\""))
        XCTAssertTrue(String(decoding: DashboardPage.bytes(allowChanges: true), as: UTF8.self).contains("data-changes=\"true\""))
        for remote in ["http://", "https://", "//cdn", "<script src", "<link rel=\"stylesheet\""] {
            XCTAssertFalse(page.contains(remote), "the page loads nothing from elsewhere: found \(remote)")
        }
        XCTAssertLessThan(page.utf8.count, 32 * 1024)
    }
}
