/// The URL `edgesplit test-rule` is asked about, taken apart the way a client sends it:
/// scheme and port choose the listener, the host is the Host header, the path (without
/// the query) is what rules match, the target is what the member receives.
public struct TestRuleRequest: Hashable, Sendable {
    public var scheme: String
    /// Lowercased, without brackets for IPv6.
    public var host: String
    public var port: Int
    /// The Host header a browser would send (`host` or `host:port` when not the default).
    public var hostHeader: String
    /// Path and query, as sent (`/` when the URL has no path).
    public var target: String

    /// The path without the query.
    public var path: String { String(target.prefix { $0 != "?" && $0 != "#" }) }

    public init(scheme: String, host: String, port: Int, hostHeader: String, target: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.hostHeader = hostHeader
        self.target = target
    }

    /// Parses `https://host[:port]/path?query` or `http://…`.
    public static func parse(_ url: String) throws(LyncDeploymentError) -> TestRuleRequest {
        guard let sep = url.range(of: "://") else {
            throw LyncDeploymentError("'\(url)': expected a URL like https://meet.contoso.com/alice/ABC123")
        }
        let scheme = url[..<sep.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else {
            throw LyncDeploymentError("'\(url)': the scheme must be https or http")
        }
        let rest = url[sep.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = String(rest[..<authorityEnd])
        var target = String(rest[authorityEnd...])
        if let hash = target.firstIndex(of: "#") { target = String(target[..<hash]) }
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        guard !authority.isEmpty, !authority.contains("@") else {
            throw LyncDeploymentError("'\(url)': expected a host name after \(scheme)://")
        }
        var host = authority
        var port = scheme == "https" ? 443 : 80
        var explicitPort = false
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw LyncDeploymentError("'\(url)': missing ']'") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw LyncDeploymentError("'\(url)': bad port") }
                port = p
                explicitPort = true
            } else if !after.isEmpty {
                throw LyncDeploymentError("'\(url)': unexpected text after the address")
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                throw LyncDeploymentError("'\(url)': bad port")
            }
            port = p
            explicitPort = true
        }
        host = host.lowercased()
        guard !host.isEmpty else { throw LyncDeploymentError("'\(url)': expected a host name") }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let defaultPort = scheme == "https" ? 443 : 80
        let hostHeader = explicitPort && port != defaultPort ? "\(bracketed):\(port)" : bracketed
        return TestRuleRequest(scheme: scheme, host: host, port: port, hostHeader: hostHeader, target: target)
    }
}
