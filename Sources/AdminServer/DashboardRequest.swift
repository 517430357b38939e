import Admin
import Foundation
import NIOHTTP1

/// What the admin listener does with one request: a pure decision from the request line,
/// the headers and the body, performed by the endpoint's handler.
///
/// `GET /metrics` is always open (it is loopback unless the operator chose otherwise, and
/// Prometheus has no login). Under `/dashboard` every request needs the credentials of
/// `admin.dashboard` when they are configured; changes also need `allow_changes`, an
/// authenticated operator, and the `X-Edgesplit-Dashboard` header, which a page of another
/// site cannot send without a CORS preflight this endpoint never answers.
enum DashboardRequest: Equatable {
    case metrics
    case page
    /// The `stats --json` object.
    case stats
    /// `GET /dashboard?token=…` with the right token: set it as a cookie and show the page
    /// without the token in the address bar.
    case acceptToken(String)
    case change(drain: Bool, farm: String, member: String)
    case refuse(HTTPResponseStatus, String)

    /// Body bytes accepted on the admin listener: a drain request is a few dozen.
    static let maxBody = 1024
    /// The header a change must carry (any value): a cross-site form cannot set it.
    static let changeHeader = "X-Edgesplit-Dashboard"

    static func decide(
        method: HTTPMethod, uri: String, headers: HTTPHeaders, body: [UInt8], access: DashboardAccess?
    ) -> DashboardRequest {
        let path = String(uri.prefix { $0 != "?" })
        if path == "/metrics" {
            return method == .GET ? .metrics : .refuse(.methodNotAllowed, "use GET /metrics\n")
        }
        guard let access, path == "/dashboard" || path.hasPrefix("/dashboard/") else {
            return .refuse(.notFound, access == nil ? "not found: try /metrics\n" : "not found: try /metrics or /dashboard\n")
        }
        let permitted = access.permits(authorization: headers["authorization"], cookies: headers["cookie"])
        switch (method, path) {
        case (.GET, "/dashboard"):
            if !permitted, let token = query(uri)["token"], access.isToken(token) { return .acceptToken(token) }
            return permitted ? .page : .refuse(.unauthorized, "authentication required\n")
        case (.GET, "/dashboard/stats"):
            return permitted ? .stats : .refuse(.unauthorized, "authentication required\n")
        case (.POST, "/dashboard/drain"), (.POST, "/dashboard/undrain"):
            guard permitted else { return .refuse(.unauthorized, "authentication required\n") }
            guard access.allowChanges, access.requiresCredentials else {
                return .refuse(.forbidden, "changes are off: set admin.dashboard.allow_changes with token_file or basic_auth\n")
            }
            guard headers.contains(name: changeHeader) else {
                return .refuse(.forbidden, "a change needs the \(changeHeader) header\n")
            }
            guard let change = try? JSONDecoder().decode(MemberChange.self, from: Data(body)) else {
                return .refuse(.badRequest, "expected a JSON object {\"farm\": NAME, \"member\": MEMBER}\n")
            }
            return .change(drain: path == "/dashboard/drain", farm: change.farm, member: change.member)
        case (_, "/dashboard"), (_, "/dashboard/stats"), (_, "/dashboard/drain"), (_, "/dashboard/undrain"):
            return .refuse(.methodNotAllowed, "method not allowed\n")
        default:
            return .refuse(.notFound, "not found: try /dashboard\n")
        }
    }

    /// The body of a drain or undrain: which member of which farm.
    private struct MemberChange: Decodable {
        let farm: String
        let member: String
    }

    /// `a=b&c=d` after the `?`, percent-decoded.
    static func query(_ uri: String) -> [String: String] {
        guard let mark = uri.firstIndex(of: "?") else { return [:] }
        var result: [String: String] = [:]
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let key = parts[0].removingPercentEncoding,
                  let value = parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding else { continue }
            result[key] = value
        }
        return result
    }
}
