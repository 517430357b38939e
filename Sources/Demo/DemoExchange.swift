/// What a demo backend received, as far as its answer depends on it.
///
/// Kept free of NIO types so ``DemoRouter`` can be tested without sockets.
struct DemoRequest: Sendable, Equatable {
    /// The method token as received, e.g. `GET`.
    var method: String
    /// The request target exactly as received (origin form, with query), e.g. `/meet/alice/ABC?x=1`.
    var target: String
    /// The HTTP version as received, e.g. `HTTP/1.1`.
    var version: String = "HTTP/1.1"
    /// The `Host` header value as received, if any: the proxy must forward it unchanged.
    var host: String?
    /// The `Authorization` header value, if any.
    var authorization: String?
    /// The `X-Forwarded-For` header value, if the proxy added one.
    var forwardedFor: String?
    /// The peer address this backend saw (the proxy's side of the connection).
    var peer: String = "?"
    /// Request body bytes received (after de-chunking).
    var bodyBytes: Int = 0
    /// Whether the body came with `Transfer-Encoding: chunked`.
    var chunked: Bool = false
}

/// One response as the backend writes it.
struct DemoResponse: Sendable, Equatable {
    var status: Int
    var reason: String
    /// Header fields in order; a name may repeat (two `WWW-Authenticate` lines).
    var headers: [(String, String)]
    var body: String

    static func == (lhs: DemoResponse, rhs: DemoResponse) -> Bool {
        lhs.status == rhs.status && lhs.reason == rhs.reason && lhs.body == rhs.body
            && lhs.headers.map { "\($0.0): \($0.1)" } == rhs.headers.map { "\($0.0): \($0.1)" }
    }

    /// The values of every header named `name` (ASCII case-insensitive), in order.
    func values(of name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }
}

/// What the backend does with a request: answer now, or hold it (a UCWA pending GET) first.
enum DemoReply: Sendable, Equatable {
    case respond(DemoResponse)
    /// Wait `seconds` on the event loop (cancelled if the client goes away), then answer.
    case hold(seconds: Int, then: DemoResponse)

    var response: DemoResponse {
        switch self {
        case .respond(let response), .hold(_, let response): return response
        }
    }
}
