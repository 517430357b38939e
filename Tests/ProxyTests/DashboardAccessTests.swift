import Foundation
import NIOHTTP1
import Publishing
import XCTest

@testable import Proxy

/// The dashboard's pure parts: credentials, the constant-time comparison, and what each
/// request on the admin listener gets. No sockets.
final class DashboardAccessTests: XCTestCase {
    private let position = SourcePosition(file: "d.yaml", line: 9, column: 3)
    private let token = "3f9a0c17d2e84b6b"

    private func access(token: String? = nil, basic: String? = nil, changes: Bool = false) -> DashboardAccess {
        DashboardAccess(token: token.map { Array($0.utf8) }, basic: basic.map { Array($0.utf8) }, allowChanges: changes)
    }

    private func decide(
        _ method: HTTPMethod, _ uri: String, _ headers: [(String, String)] = [], body: String = "", access: DashboardAccess?
    ) -> DashboardRequest {
        DashboardRequest.decide(method: method, uri: uri, headers: HTTPHeaders(headers), body: Array(body.utf8), access: access)
    }

    func testConstantTimeEquality() {
        XCTAssertTrue(DashboardAccess.equal(Array("abc".utf8), Array("abc".utf8)))
        for candidate in ["abd", "ab", "abcd", "", "abcabc", "ABC"] {
            XCTAssertFalse(DashboardAccess.equal(Array(candidate.utf8), Array("abc".utf8)), candidate)
        }
        XCTAssertFalse(DashboardAccess.equal([], []), "an empty secret matches nothing")
    }

    func testBearerBasicAndCookie() {
        let both = access(token: token, basic: "ops:s3cret")
        XCTAssertTrue(both.permits(authorization: ["Bearer \(token)"], cookies: []))
        XCTAssertTrue(both.permits(authorization: ["bearer  \(token) "], cookies: []))
        XCTAssertTrue(both.permits(authorization: ["Basic " + Data("ops:s3cret".utf8).base64EncodedString()], cookies: []))
        XCTAssertTrue(both.permits(authorization: [], cookies: ["a=b; edgesplit_dashboard=\(token)"]))
        XCTAssertFalse(both.permits(authorization: [], cookies: []))
        XCTAssertFalse(both.permits(authorization: ["Bearer \(token)x"], cookies: []))
        XCTAssertFalse(both.permits(authorization: ["Basic " + Data("ops:wrong".utf8).base64EncodedString()], cookies: []))
        XCTAssertFalse(both.permits(authorization: ["Basic " + Data("ops:s3cre".utf8).base64EncodedString()], cookies: []))
        XCTAssertFalse(both.permits(authorization: ["Basic not base64!"], cookies: []))
        XCTAssertFalse(both.permits(authorization: [token], cookies: ["other=\(token)"]))
        // Basic only: a token-shaped cookie means nothing.
        XCTAssertFalse(access(basic: "ops:s3cret").permits(authorization: ["Bearer ops:s3cret"], cookies: ["edgesplit_dashboard=ops:s3cret"]))
        XCTAssertTrue(access().permits(authorization: [], cookies: []), "no credentials configured: loopback, open")
    }

    func testCredentialsAreReadFromTheirFiles() throws {
        let files: [String: [UInt8]] = [
            "token": Array("  \(token)\n".utf8), "password": Array("s3cret\r\n".utf8), "empty": Array(" \n".utf8),
            "spaced": Array("two words\n".utf8),
        ]
        let read: (String) throws -> [UInt8] = { path in
            guard let bytes = files[path] else { throw CocoaError(.fileNoSuchFile) }
            return bytes
        }
        let settings = DashboardSettings(
            tokenFile: "token", basicAuth: BasicAuthSettings(user: "ops", passwordFile: "password"), allowChanges: true, position: position
        )
        let loaded = try DashboardAccess(settings: settings, readFile: read)
        XCTAssertEqual(loaded.token, Array(token.utf8))
        XCTAssertEqual(loaded.basic, Array("ops:s3cret".utf8))
        XCTAssertTrue(loaded.allowChanges)
        for (file, message) in [("missing", "cannot read 'missing'"), ("empty", "'empty' is empty"), ("spaced", "characters a token cannot have")] {
            XCTAssertThrowsError(try DashboardAccess(settings: DashboardSettings(tokenFile: file, position: position), readFile: read)) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("d.yaml:9:3: error: admin.dashboard.token_file: "), text)
                XCTAssertTrue(text.contains(message), text)
                XCTAssertFalse(text.contains("two words"), "a secret is never echoed: \(text)")
            }
        }
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
