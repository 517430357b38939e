import Admin
/// Decides a demo backend's answer, the way a small Lync Front End or Director would.
///
/// Pure: the NIO handler feeds it a ``DemoRequest`` and performs the ``DemoReply``. Paths match
/// ASCII case-insensitively like IIS (`/Meet` and `/meet` are the same virtual directory), and
/// every answer tells the demo user *who* answered and *what arrived*: the request target as
/// received, and the `Host` header as received, so "Host forwarded unchanged" and "443 bridged to
/// the backend's port" can be seen with curl.
struct DemoRouter: Sendable {
    /// The farm member name, e.g. `pool-fe1`; sent as `X-Demo-Member` on every response.
    var member: String
    /// The local port this backend listens on (like a Front End's 4443).
    var port: Int
    /// Whether the backend speaks TLS (the proxy re-encrypted).
    var tls: Bool

    /// UCWA pending-GET hold when the request gives no `timeout` (seconds).
    static let defaultHold = 5
    /// Longest hold honoured (seconds); real UCWA allows up to 1800, the demo keeps it short.
    static let maximumHold = 120

    /// The answer to `request`, updating the connection's NTLM handshake state.
    func reply(to request: DemoRequest, ntlm: inout NTLMHandshake) -> DemoReply {
        let path = Self.path(of: request.target).lowercased()
        if path == "/health" {
            return .respond(response(200, "OK", contentType: "text/plain; charset=utf-8", body: "OK"))
        }
        if Self.isUnder(path, "/meet") {
            return .respond(page(title: "Join meeting", note: "Lync meeting join page (simple URL meet)", request))
        }
        if Self.isUnder(path, "/dialin") {
            return .respond(page(title: "Dial-in conferencing", note: "Lync dial-in page (simple URL dialin)", request))
        }
        if path.hasPrefix("/abs/handler") {
            return .respond(addressBook(request, ntlm: &ntlm))
        }
        if path.hasPrefix("/autodiscover/autodiscoverservice.svc/root") {
            return .respond(autodiscover(request))
        }
        if Self.isUnder(path, "/ucwa") {
            let seconds = Self.holdSeconds(target: request.target)
            let body = "{\"events\":[],\"heldSeconds\":\(seconds),\"edgesplitDemo\":\(demoJSON(request))}"
            return .hold(seconds: seconds, then: response(200, "OK", contentType: "application/json", body: body))
        }
        // Simple URLs are routed by Host on the same IIS site: `https://meet.contoso.test/alice/X`
        // reaches the Director as `/alice/X` with `Host: meet.contoso.test`. Without the original
        // Host these answer 404, which is the failure TMG's "forward the original host header"
        // prevents (lync-publishing.md §4.1).
        let host = Self.hostName(request.host)
        if host.hasPrefix("meet.") {
            return .respond(page(title: "Join meeting", note: "Lync meeting join page (simple URL meet, routed by Host)", request))
        }
        if host.hasPrefix("dialin.") {
            return .respond(page(title: "Dial-in conferencing", note: "Lync dial-in page (simple URL dialin, routed by Host)", request))
        }
        // `lyncdiscover.<domain>/?sipuri=…` is the autodiscover root too.
        if host.hasPrefix("lyncdiscover."), path == "/" {
            return .respond(autodiscover(request))
        }
        return .respond(
            response(
                404, "Not Found", contentType: "text/plain; charset=utf-8",
                body: "404 Not Found: the demo backend has no such path.\n" + summary(request)
            )
        )
    }

    // MARK: Routes

    /// `/abs/handler…`: Address Book download under Windows authentication.
    ///
    /// Without credentials: 401 with **two separate** `WWW-Authenticate` fields (NTLM and
    /// Negotiate), as IIS sends them; a proxy must not fold or drop either. With `NTLM …`: the
    /// connection-bound challenge/response described in ``NTLMHandshake``.
    private func addressBook(_ request: DemoRequest, ntlm: inout NTLMHandshake) -> DemoResponse {
        let scheme = request.authorization.map { Self.authScheme($0) }
        if ntlm == .authenticated || (scheme == "ntlm" && ntlm == .challenged) {
            ntlm = .authenticated
            return response(
                200, "OK", contentType: "text/plain; charset=utf-8",
                body: "Address Book: NTLM handshake completed on this connection (demo, no real credentials).\n"
                    + summary(request)
            )
        }
        if scheme == "ntlm" {
            ntlm = .challenged
            var challenge = response(
                401, "Unauthorized", contentType: "text/plain; charset=utf-8",
                body: "Address Book: NTLM challenge (type 2); answer on the same connection.\n" + summary(request)
            )
            challenge.headers.append(("WWW-Authenticate", "NTLM " + NTLMHandshake.challengeToken))
            return challenge
        }
        var unauthorized = response(
            401, "Unauthorized", contentType: "text/plain; charset=utf-8",
            body: "Address Book requires Windows authentication (401 with NTLM and Negotiate).\n" + summary(request)
        )
        unauthorized.headers.append(("WWW-Authenticate", "NTLM"))
        unauthorized.headers.append(("WWW-Authenticate", "Negotiate"))
        return unauthorized
    }

    /// `/Autodiscover/AutodiscoverService.svc/root…`: Lync autodiscover JSON whose links use the
    /// Host received, which is exactly why the proxy must forward the original host: every href
    /// must point at a published name (lync-publishing.md §1).
    private func autodiscover(_ request: DemoRequest) -> DemoResponse {
        let host = Self.jsonEscaped(request.host ?? "localhost")
        let base = "https://\(host)/Autodiscover/AutodiscoverService.svc/root"
        let body =
            "{\"_links\":{"
            + "\"self\":{\"href\":\"\(base)?originalDomain=contoso.test\"},"
            + "\"user\":{\"href\":\"\(base)/oauth/user?originalDomain=contoso.test\"},"
            + "\"xframe\":{\"href\":\"https://\(host)/Autodiscover/XFrame/XFrame.html\"}"
            + "},\"edgesplitDemo\":\(demoJSON(request))}"
        return response(200, "OK", contentType: "application/vnd.microsoft.rtc.autodiscover+json; v=1", body: body)
    }

    /// A small HTML page (meet, dialin) with the demo summary.
    private func page(title: String, note: String, _ request: DemoRequest) -> DemoResponse {
        let body = """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>\(title) - edgesplit demo</title></head>
            <body><h1>\(title)</h1><p>\(Self.htmlEscaped(note))</p>
            <pre>\(Self.htmlEscaped(summary(request)))</pre></body></html>

            """
        return response(200, "OK", contentType: "text/html; charset=utf-8", body: body)
    }

    // MARK: Building blocks

    private func response(_ status: Int, _ reason: String, contentType: String, body: String) -> DemoResponse {
        DemoResponse(
            status: status,
            reason: reason,
            headers: [("X-Demo-Member", member), ("Content-Type", contentType), ("Cache-Control", "no-store")],
            body: body
        )
    }

    /// Where the request landed: this member, its port and protocol.
    var answeredOn: String { "127.0.0.1:\(port) over \(tls ? "HTTPS" : "HTTP")" }

    /// The plain-text lines every text and HTML answer ends with.
    func summary(_ request: DemoRequest) -> String {
        var lines = [
            "member:   \(member) (answered on \(answeredOn))",
            "request:  \(request.method) \(request.target) \(request.version)",
            "host:     \(request.host ?? "(no Host header)")",
            "peer:     \(request.peer)",
            "body:     \(request.bodyBytes) bytes\(request.chunked ? " (chunked)" : "")",
        ]
        if let forwardedFor = request.forwardedFor { lines.append("x-forwarded-for: \(forwardedFor)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The same facts as a JSON object, for JSON answers.
    func demoJSON(_ request: DemoRequest) -> String {
        var fields = [
            "\"member\":\"\(Self.jsonEscaped(member))\"",
            "\"answeredOn\":\"\(Self.jsonEscaped(answeredOn))\"",
            "\"method\":\"\(Self.jsonEscaped(request.method))\"",
            "\"target\":\"\(Self.jsonEscaped(request.target))\"",
            "\"host\":" + (request.host.map { "\"\(Self.jsonEscaped($0))\"" } ?? "null"),
            "\"peer\":\"\(Self.jsonEscaped(request.peer))\"",
            "\"bodyBytes\":\(request.bodyBytes)",
            "\"chunked\":\(request.chunked)",
        ]
        if let forwardedFor = request.forwardedFor {
            fields.append("\"xForwardedFor\":\"\(Self.jsonEscaped(forwardedFor))\"")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// The host name of a `Host` value, lowercased, without the port (`Meet.Contoso.test:8443` →
    /// `meet.contoso.test`; `[::1]:80` → `[::1]`).
    static func hostName(_ host: String?) -> String {
        guard let host = host?.lowercased() else { return "" }
        if host.hasPrefix("[") { return String(host.prefix { $0 != "]" }) + (host.contains("]") ? "]" : "") }
        return String(host.prefix { $0 != ":" })
    }

    /// The path part of an origin-form target (before `?`).
    static func path(of target: String) -> Substring {
        target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// `path` is `prefix` itself or below it (`/meet`, `/meet/…`), not merely starting with it
    /// (`/meetings`).
    static func isUnder(_ path: String, _ prefix: String) -> Bool {
        path == prefix || path.hasPrefix(prefix + "/")
    }

    /// The auth scheme of an `Authorization` value, lowercased (`NTLM TlRM…` → `ntlm`).
    static func authScheme(_ authorization: String) -> String {
        String(authorization.split(separator: " ", maxSplits: 1).first ?? "").lowercased()
    }

    /// The `timeout` query parameter clamped to 0…``maximumHold``, else ``defaultHold``.
    static func holdSeconds(target: String) -> Int {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return defaultHold }
        for pair in parts[1].split(separator: "&") {
            let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if keyValue.count == 2, keyValue[0].lowercased() == "timeout", let seconds = Int(keyValue[1]) {
                return min(max(seconds, 0), maximumHold)
            }
        }
        return defaultHold
    }

    /// Inside a JSON string literal: the escaping `stats --json` and the access log use.
    static func jsonEscaped(_ text: String) -> String { JSONOutput.escaped(text) }

    static func htmlEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
