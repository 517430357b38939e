import Foundation
import Publishing
import XCTest

@testable import Admin

/// The dashboard's credentials: read from their files, the constant-time comparison, and
/// which headers carry them. No sockets.
final class DashboardAccessTests: XCTestCase {
    private let position = SourcePosition(file: "d.yaml", line: 9, column: 3)
    private let token = "3f9a0c17d2e84b6b"

    private func access(token: String? = nil, basic: String? = nil, changes: Bool = false) -> DashboardAccess {
        DashboardAccess(token: token.map { Array($0.utf8) }, basic: basic.map { Array($0.utf8) }, allowChanges: changes)
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
}
