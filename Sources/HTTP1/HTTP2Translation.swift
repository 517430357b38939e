/// Translation between HTTP/2 field lists and the HTTP/1.1 heads the members speak.
///
/// A client's HTTP/2 request becomes the HTTP/1.1 head it would have sent (RFC 9113 §8.3.1:
/// `:authority` becomes Host, `:method` and `:path` the request line), and that head then
/// goes through the same strict ``HeadParser`` and the same forwarding edits as a request that
/// arrived in HTTP/1.1: one set of rules, one place where fields are judged. A member's
/// response head goes the other way, without its HTTP/1.1 connection-specific fields.
public enum HTTP2Translation {
    /// One field of a client's HTTP/2 header list as the HPACK decoder gives it: strings, read
    /// here through their UTF-8 views, so a request's fields are not copied into arrays first.
    public typealias RequestField = (name: String, value: String)

    /// Why a client's header list is malformed (RFC 9113 §8.1.1): the stream is reset with
    /// PROTOCOL_ERROR, nothing is forwarded.
    public struct MalformedRequest: Error, Equatable, Sendable {
        public let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// The HTTP/1.1 request head for an HTTP/2 request, ending in CRLF CRLF.
    ///
    /// - `hasBody`: HEADERS did not end the stream. Without a content-length the body is sent
    ///   chunked (`Transfer-Encoding: chunked` is added); with none at all, POST, PUT and PATCH
    ///   get `Content-Length: 0`, which IIS requires (411) and HTTP/2 clients omit.
    /// - Cookie fields, which HTTP/2 splits per crumb, are joined with `; ` (RFC 9113 §8.2.3).
    /// - Connection-specific fields are malformed in HTTP/2 (RFC 9113 §8.2.2); TE is dropped.
    /// - Names must be lowercase tokens, values free of NUL, CR and LF (RFC 9113 §8.2.1): a
    ///   value carrying CRLF would otherwise become a second header line here.
    /// - Pseudo-header values are also free of other controls, SP and DEL: `:path` and `:method`
    ///   become the request line, where a space would split it differently for different
    ///   parsers (RFC 9112 §3.2 wants it percent-encoded).
    ///
    /// These are all the checks on a header block: edgesplit turns off swift-nio-http2's own
    /// validation of header blocks, which repeated them at about a tenth of an HTTP/2 request's
    /// cost.
    public static func requestHead(_ fields: [RequestField], hasBody: Bool) throws(MalformedRequest) -> [UInt8] {
        var method: String?
        var path: String?
        var authority: String?
        var scheme: String?
        var regular: [RequestField] = []
        regular.reserveCapacity(fields.count)
        var cookies: [String] = []
        var hasContentLength = false
        /// A regular field came, forwarded or not (`te`, a `host` beside `:authority`): no
        /// pseudo-header may follow (RFC 9113 §8.3).
        var sawRegular = false
        var size = 0
        for field in fields {
            size &+= field.name.utf8.count &+ field.value.utf8.count &+ 4
            switch classify(field, afterRegular: sawRegular) {
            case .malformed(let reason):
                throw MalformedRequest(reason.description)
            case .pseudo(let which):
                func once(_ slot: inout String?) throws(MalformedRequest) {
                    guard slot == nil else { throw MalformedRequest("repeated pseudo-header") }
                    slot = field.value
                }
                switch which {
                case .method: try once(&method)
                case .path: try once(&path)
                case .authority: try once(&authority)
                case .scheme: try once(&scheme)
                }
            case .dropped:
                sawRegular = true
            case .cookie:
                sawRegular = true
                cookies.append(field.value)
            case .host:
                sawRegular = true
                if authority == nil { regular.append(field) }
            case .contentLength:
                sawRegular = true
                hasContentLength = true
                regular.append(field)
            case .regular:
                sawRegular = true
                regular.append(field)
            }
        }
        guard let method, !method.isEmpty else { throw MalformedRequest("no :method") }
        var out: [UInt8] = []
        out.reserveCapacity(256 &+ size)
        out.append(contentsOf: method.utf8)
        out.append(ASCII.sp)
        if same(method, "CONNECT") {
            // Refused by the head parser like an HTTP/1.1 CONNECT (405).
            out.append(contentsOf: (authority ?? "").utf8)
        } else {
            guard scheme != nil, let path, !path.isEmpty else { throw MalformedRequest("no :scheme or :path") }
            out.append(contentsOf: path.utf8)
        }
        appendStatic(&out, " HTTP/1.1\r\n")
        if let authority {
            appendStatic(&out, "Host: ")
            out.append(contentsOf: authority.utf8)
            appendCRLF(&out)
        }
        for field in regular {
            out.append(contentsOf: field.name.utf8)
            out.append(ASCII.colon)
            out.append(ASCII.sp)
            out.append(contentsOf: field.value.utf8)
            appendCRLF(&out)
        }
        if !cookies.isEmpty {
            appendStatic(&out, "cookie: ")
            for (i, crumb) in cookies.enumerated() {
                if i > 0 { appendStatic(&out, "; ") }
                out.append(contentsOf: crumb.utf8)
            }
            appendCRLF(&out)
        }
        if !hasContentLength {
            if hasBody {
                appendStatic(&out, "Transfer-Encoding: chunked\r\n")
            } else if same(method, "POST") || same(method, "PUT") || same(method, "PATCH") {
                appendStatic(&out, "Content-Length: 0\r\n")
            }
        }
        appendCRLF(&out)
        return out
    }

    /// Byte equality. `==` on strings is Unicode canonical equivalence, under which a field that
    /// is not these bytes (KELVIN SIGN for `K`) could compare equal; a protocol element is bytes.
    private static func same(_ string: String, _ literal: StaticString) -> Bool {
        var string = string
        return string.withUTF8 { same($0, literal) }
    }

    private static func same(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count == count else { return false }
        let start = literal.utf8Start
        for i in 0..<count where bytes[i] != start[i] { return false }
        return true
    }

    private enum Pseudo { case method, path, authority, scheme }

    /// What one request field is, judged on its bytes (the HPACK decoder's strings are
    /// contiguous UTF-8, read in place).
    private enum FieldClass {
        case pseudo(Pseudo)
        case cookie, host, contentLength, regular
        /// `te: trailers`, accepted and not forwarded.
        case dropped
        case malformed(StaticString)
    }

    private static func classify(_ field: RequestField, afterRegular: Bool) -> FieldClass {
        var name = field.name
        var value = field.value
        return name.withUTF8 { name in
            value.withUTF8 { value in classify(name: name, value: value, afterRegular: afterRegular) }
        }
    }

    private static func classify(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, afterRegular: Bool) -> FieldClass {
        guard let first = name.first else { return .malformed("empty field name") }
        for byte in value where byte == 0 || byte == ASCII.cr || byte == ASCII.lf {
            return .malformed("NUL, CR or LF in a field value")
        }
        if first == ASCII.colon {
            guard !afterRegular else { return .malformed("pseudo-header after regular fields") }
            for byte in value where byte <= ASCII.sp || byte == 0x7F {
                return .malformed("control or space in a pseudo-header value")
            }
            if same(name, ":method") { return .pseudo(.method) }
            if same(name, ":path") { return .pseudo(.path) }
            if same(name, ":authority") { return .pseudo(.authority) }
            if same(name, ":scheme") { return .pseudo(.scheme) }
            return .malformed("unknown pseudo-header")
        }
        for byte in name where !ASCII.isTokenChar(byte) || (byte >= 0x41 && byte <= 0x5A) {
            return .malformed("field name not a lowercase token")
        }
        if let first = value.first, ASCII.isOWS(first) { return .malformed("whitespace around a field value") }
        if let last = value.last, ASCII.isOWS(last) { return .malformed("whitespace around a field value") }
        switch name.count {
        case 2:
            if same(name, "te") { return same(value, "trailers") ? .dropped : .malformed("TE other than trailers") }
        case 4:
            if same(name, "host") { return .host }
        case 6:
            if same(name, "cookie") { return .cookie }
        case 7:
            if same(name, "upgrade") { return .malformed("connection-specific field") }
        case 10:
            if same(name, "connection") || same(name, "keep-alive") { return .malformed("connection-specific field") }
        case 14:
            if same(name, "content-length") { return .contentLength }
        case 16:
            if same(name, "proxy-connection") { return .malformed("connection-specific field") }
        case 17:
            if same(name, "transfer-encoding") { return .malformed("connection-specific field") }
        default:
            break
        }
        return .regular
    }

    /// The size line of one chunk of `count` bytes (`count` > 0) in hex, CRLF-terminated.
    public static func chunkSizeLine(_ count: Int) -> [UInt8] {
        Array(String(count, radix: 16).utf8) + [ASCII.cr, ASCII.lf]
    }

    /// The chunked body's end: the last chunk and an empty trailer section.
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}

extension ResponseHead {
    /// The member's fields that go on in HTTP/2, in order, as they are in the head (names not yet
    /// lowercased, RFC 9113 §8.2.2 wants them lowercase), without `:status`: not Connection,
    /// Keep-Alive, Proxy-Connection, TE, Upgrade, Transfer-Encoding or the fields Connection
    /// names; Content-Length kept unless the framing conflicted (HTTP/2 frames the body itself,
    /// but a length lets the client show progress). The caller builds its field list from the
    /// head's bytes, without copying each field into arrays first (`HTTP2Stream.hpack`).
    public func forEachHTTP2Field(_ body: (_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> Void) {
        headers.storage.withUnsafeBufferPointer { p in
            for field in headers.fields {
                switch FieldKind.of(p, field.name) {
                case .connection, .proxyConnection, .keepAlive, .te, .upgrade, .transferEncoding:
                    continue
                case .contentLength:
                    // RFC 9110 §8.6: none on 1xx and 204, whose HTTP/2 stream ends without DATA;
                    // kept, a nonzero one makes the client's HTTP/2 stack reset the stream.
                    if hadConflictingFraming || status < 200 || status == 204 { continue }
                case .host, .other, .xForwardedFor, .xForwardedProto, .spoofable:
                    if listedInConnection(p, field.name, connectionTokens) { continue }
                }
                body(UnsafeBufferPointer(rebasing: p[field.name]), UnsafeBufferPointer(rebasing: p[field.value]))
            }
        }
    }
}
