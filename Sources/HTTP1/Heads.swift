/// A parsed request head. Everything is kept byte-exact as received: the target is never
/// decoded or normalised (a proxy that "fixes" `%2F` or re-encodes UTF-8 changes which resource
/// the origin serves), and field names keep their case.
public struct RequestHead: Sendable, Hashable {
    /// Field lines, in received order, as ranges into the head bytes.
    public let headers: HTTPHeaders
    public let version: HTTPVersion
    /// How the body is delimited (RFC 9112 §6.3 rules 3–7; ambiguous framing never gets here).
    public let framing: BodyFraming
    /// Whether the connection stays open after this exchange (RFC 9112 §9.3): on for 1.1 unless
    /// `Connection: close`, off for 1.0 unless `Connection: keep-alive`.
    public let keepAlive: Bool
    /// `Expect: 100-continue` was sent (RFC 9110 §10.1.1).
    public let expectsContinue: Bool
    /// The Connection options, lowercased, in order (RFC 9110 §7.6.1); the fields they name are
    /// hop-by-hop and are not forwarded.
    public let connectionTokens: [[UInt8]]
    public let targetForm: RequestTargetForm

    let methodRange: Range<Int>
    let targetRange: Range<Int>
    @usableFromInline let hostRange: Range<Int>?
    let upgradeRange: Range<Int>?
    @usableFromInline let pathRange: Range<Int>
    let queryRange: Range<Int>?

    /// The head exactly as received, from the request line to the final CRLF
    /// (leading empty lines excluded).
    public var rawBytes: [UInt8] { headers.storage }
    /// The method, case-sensitive (RFC 9110 §9.1).
    public var method: ArraySlice<UInt8> { headers.storage[methodRange] }
    /// The request target, byte for byte.
    public var target: ArraySlice<UInt8> { headers.storage[targetRange] }

    /// The host the request is for: the authority of an absolute-form target, which wins over
    /// Host (RFC 9112 §3.2.2), or else the Host value. `nil` only for HTTP/1.0 without Host.
    public var host: [UInt8]? { hostRange.map { Array(headers.storage[$0]) } }

    /// The Upgrade value when the client asks to switch protocols: only when `Connection`
    /// lists `upgrade` (RFC 9110 §7.8); a stray Upgrade field alone means nothing.
    public var upgrade: [UInt8]? { upgradeRange.map { Array(headers.storage[$0]) } }

    /// Whether this is a WebSocket opening handshake (RFC 6455 §4.1): Connection lists `upgrade`
    /// and an Upgrade field lists `websocket`. The data plane keeps upgrades only for these.
    public var isWebSocketUpgrade: Bool { upgradeRange != nil && upgradeListContains("websocket") }

    /// Whether any Upgrade field offers the protocol `name` (lowercase), ignoring versions.
    func upgradeListContains(_ name: StaticString) -> Bool {
        headers.storage.withUnsafeBufferPointer { p in
            for field in headers.fields where equalsLowercase(p, field.name, "upgrade") {
                var found = false
                forEachListElement(p, field.value) { element in
                    // protocol = protocol-name ["/" protocol-version] (RFC 9110 §7.8)
                    var end = element.lowerBound
                    while end < element.upperBound && p[end] != 0x2F { end += 1 }
                    if equalsLowercase(p, element.lowerBound..<end, name) { found = true }
                    return !found
                }
                if found { return true }
            }
            return false
        }
    }

    /// The path: for origin-form the target up to `?`; for absolute-form the part after the
    /// authority up to `?` (`/` when empty, RFC 9112 §3.2.2); for asterisk-form `*`.
    public var path: ArraySlice<UInt8> {
        if pathRange.isEmpty { return ArraySlice([0x2F]) }
        return headers.storage[pathRange]
    }

    /// Calls `body` with ``host`` and ``path`` as views of the received bytes: what routing
    /// reads for every request, without copying either. Inlinable, so that the caller's result
    /// type is known where it is called: generic across modules, each request paid for the
    /// result's type metadata at run time.
    @inlinable
    public func withHostAndPath<R>(_ body: (UnsafeBufferPointer<UInt8>?, UnsafeBufferPointer<UInt8>) -> R) -> R {
        if pathRange.isEmpty {
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1) { slash in
                slash[0] = 0x2F
                return headers.storage.withUnsafeBufferPointer { p in
                    body(hostRange.map { UnsafeBufferPointer(rebasing: p[$0]) }, UnsafeBufferPointer(slash))
                }
            }
        }
        return headers.storage.withUnsafeBufferPointer { p in
            body(hostRange.map { UnsafeBufferPointer(rebasing: p[$0]) }, UnsafeBufferPointer(rebasing: p[pathRange]))
        }
    }

    /// The query without its `?`, or `nil` when the target has no `?`.
    public var query: ArraySlice<UInt8>? { queryRange.map { headers.storage[$0] } }

    /// The method as text, for logs only.
    public var methodString: String { String(decoding: method, as: UTF8.self) }
    /// The target as text (invalid UTF-8 replaced), for logs only; forward ``target`` instead.
    public var targetString: String { String(decoding: target, as: UTF8.self) }

    /// Whether the method is HEAD, whose response never has a body (RFC 9110 §9.3.2).
    public var isHEAD: Bool { method.elementsEqual("HEAD".utf8) }

    public func firstValue(_ lowercasedName: String) -> [UInt8]? { headers.firstValue(lowercasedName) }
    public func values(_ lowercasedName: String) -> [[UInt8]] { headers.values(lowercasedName) }
    public func containsValue(_ lowercasedName: String, where predicate: (ArraySlice<UInt8>) -> Bool) -> Bool {
        headers.containsValue(lowercasedName, where: predicate)
    }
}

/// A parsed response head.
public struct ResponseHead: Sendable, Hashable {
    public let headers: HTTPHeaders
    public let version: HTTPVersion
    /// The three-digit status code (100–599).
    public let status: Int
    /// The Connection options, lowercased (RFC 9110 §7.6.1).
    public let connectionTokens: [[UInt8]]
    /// Persistence by the same rules as for requests (RFC 9112 §9.3). A body framed
    /// ``BodyFraming/untilClose`` ends the connection regardless.
    public let keepAlive: Bool
    /// Both Transfer-Encoding and Content-Length were present. Transfer-Encoding wins
    /// (RFC 9112 §6.3 rule 3) and the forwarded head drops Content-Length, but the upstream
    /// connection should be closed after this response: it may be desynchronised.
    public let hadConflictingFraming: Bool

    let reasonRange: Range<Int>
    /// Transfer-Encoding summary: nil when absent, true when chunked is the final coding.
    let chunkedFinal: Bool?
    let contentLength: UInt64?
    let upgradeRange: Range<Int>?

    /// The head exactly as received.
    public var rawBytes: [UInt8] { headers.storage }
    /// The reason phrase as received (may be empty).
    public var reason: ArraySlice<UInt8> { headers.storage[reasonRange] }

    /// 1xx other than 101: an interim response, the final one still follows (RFC 9110 §15.2).
    public var isInformational: Bool { status >= 100 && status < 200 && status != 101 }
    /// 101: after this head the connection carries the upgraded protocol (RFC 9110 §15.2.2).
    public var isSwitchingProtocols: Bool { status == 101 }
    /// The Upgrade value when Connection lists `upgrade` (as a 101 does), else nil.
    public var upgrade: [UInt8]? { upgradeRange.map { Array(headers.storage[$0]) } }

    /// The body length per RFC 9112 §6.3, which depends on the request: a response to HEAD
    /// and any 1xx, 204 or 304 has no body (rule 1); a 2xx to CONNECT starts a tunnel (rule 2,
    /// never produced here since CONNECT is refused); then Transfer-Encoding with chunked last
    /// (rule 4; not last means read until close); then Content-Length (rule 6); else the body
    /// runs until close (rule 8).
    public func framing(requestMethod: [UInt8]) -> BodyFraming {
        framing(isHEAD: requestMethod.elementsEqual("HEAD".utf8),
                isCONNECT: requestMethod.elementsEqual("CONNECT".utf8))
    }

    /// ``framing(requestMethod:)`` for a method kept as a slice of its request head.
    public func framing(requestMethod: ArraySlice<UInt8>) -> BodyFraming {
        framing(isHEAD: requestMethod.elementsEqual("HEAD".utf8),
                isCONNECT: requestMethod.elementsEqual("CONNECT".utf8))
    }

    func framing(isHEAD: Bool, isCONNECT: Bool) -> BodyFraming {
        if isHEAD || (status >= 100 && status < 200) || status == 204 || status == 304 {
            return .none
        }
        if isCONNECT && status >= 200 && status < 300 { return .none }
        if let chunkedFinal { return chunkedFinal ? .chunked : .untilClose }
        if let contentLength { return .contentLength(contentLength) }
        return .untilClose
    }

    public func firstValue(_ lowercasedName: String) -> [UInt8]? { headers.firstValue(lowercasedName) }
    public func values(_ lowercasedName: String) -> [[UInt8]] { headers.values(lowercasedName) }
    public func containsValue(_ lowercasedName: String, where predicate: (ArraySlice<UInt8>) -> Bool) -> Bool {
        headers.containsValue(lowercasedName, where: predicate)
    }
}
