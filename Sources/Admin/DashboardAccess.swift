import Foundation
import Publishing

/// Who may read the dashboard, and change farm members through it: the credentials of
/// `admin.dashboard`, read from their files once at start, and the verdict on one request.
///
/// No I/O after `init`: the checks are pure and tested without sockets.
package struct DashboardAccess: Sendable {
    /// The bearer token; nil when `token_file` is not set.
    let token: [UInt8]?
    /// `user:password` as basic authentication sends it (RFC 7617 §2), before base64.
    let basic: [UInt8]?
    package let allowChanges: Bool

    /// The cookie that carries the token for a browser that opened `/dashboard?token=…`.
    package static let cookieName = "edgesplit_dashboard"

    package var requiresCredentials: Bool { token != nil || basic != nil }

    init(token: [UInt8]?, basic: [UInt8]?, allowChanges: Bool) {
        self.token = token
        self.basic = basic
        self.allowChanges = allowChanges
    }

    /// Reads the token and password files. A file that cannot be read, is empty, or holds a
    /// token a cookie cannot carry is an error at `admin.dashboard`.
    package init(settings: DashboardSettings, readFile: (String) throws -> [UInt8]) throws {
        func secret(_ path: String, _ key: String) throws -> [UInt8] {
            let bytes: [UInt8]
            do {
                bytes = try readFile(path)
            } catch {
                throw SetupError(settings.position, "admin.dashboard.\(key): cannot read '\(path)' (\(error))")
            }
            let text = Self.trimmed(bytes)
            guard !text.isEmpty else {
                throw SetupError(settings.position, "admin.dashboard.\(key): '\(path)' is empty")
            }
            return text
        }
        var token: [UInt8]?
        if let path = settings.tokenFile {
            let value = try secret(path, "token_file")
            // RFC 6265 §4.1.1 cookie-octets, less '%' so nothing is ever decoded: the
            // token goes into a cookie and an Authorization header as it is.
            guard value.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x2C && $0 != 0x3B && $0 != 0x5C && $0 != 0x25 }) else {
                throw SetupError(
                    settings.position,
                    "admin.dashboard.token_file: '\(path)' holds characters a token cannot have; "
                        + "expected printable ASCII without spaces, quotes, commas, semicolons, backslashes or '%' (e.g. openssl rand -hex 32)"
                )
            }
            token = value
        }
        var basic: [UInt8]?
        if let auth = settings.basicAuth {
            basic = Array(auth.user.utf8) + [UInt8(ascii: ":")] + (try secret(auth.passwordFile, "basic_auth.password_file"))
        }
        self.init(token: token, basic: basic, allowChanges: settings.allowChanges)
    }

    /// Whether a request's `Authorization` and `Cookie` headers carry the credentials.
    /// Without configured credentials every request may read (loopback only: the loader
    /// refuses anything else).
    package func permits(authorization: [String], cookies: [String]) -> Bool {
        guard requiresCredentials else { return true }
        var ok = false
        for header in authorization {
            let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2 else { continue }
            let scheme = parts[0].lowercased()
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            if scheme == "bearer", let token {
                ok = Self.equal(Array(value.utf8), token) || ok
            } else if scheme == "basic", let basic, let decoded = Data(base64Encoded: value) {
                ok = Self.equal(Array(decoded), basic) || ok
            }
        }
        if let token {
            for value in Self.cookieValues(named: Self.cookieName, in: cookies) {
                ok = Self.equal(Array(value.utf8), token) || ok
            }
        }
        return ok
    }

    /// Whether `candidate` is the token (for `?token=`, before it is set as a cookie).
    package func isToken(_ candidate: String) -> Bool {
        guard let token else { return false }
        return Self.equal(Array(candidate.utf8), token)
    }

    /// The scheme a 401 offers: basic when configured (a browser then asks for the user and
    /// password itself), else bearer.
    package var challenge: String {
        basic != nil ? "Basic realm=\"edgesplit dashboard\", charset=\"UTF-8\"" : "Bearer realm=\"edgesplit dashboard\""
    }

    /// Compares in time that depends only on the candidate's length, never on where it
    /// first differs from the secret, nor on the secret's length beyond that.
    static func equal(_ candidate: [UInt8], _ secret: [UInt8]) -> Bool {
        guard !secret.isEmpty else { return false }
        var difference = UInt8(candidate.count == secret.count ? 0 : 1)
        for (i, byte) in candidate.enumerated() {
            difference |= byte ^ secret[i % secret.count]
        }
        return difference == 0 && !candidate.isEmpty
    }

    /// The values of every cookie called `name` in `Cookie` headers (RFC 6265 §5.4).
    static func cookieValues(named name: String, in headers: [String]) -> [String] {
        headers.flatMap { header in
            header.split(separator: ";").compactMap { pair -> String? in
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { return nil }
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
    }

    /// A secret file's content without the surrounding whitespace and line ends.
    static func trimmed(_ bytes: [UInt8]) -> [UInt8] {
        let space: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
        guard let first = bytes.firstIndex(where: { !space.contains($0) }),
              let last = bytes.lastIndex(where: { !space.contains($0) }) else { return [] }
        return Array(bytes[first...last])
    }
}
