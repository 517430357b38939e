/// Translation between HTTP/2 field lists and the HTTP/1.1 heads the members speak.
///
/// A client's HTTP/2 request becomes the HTTP/1.1 head it would have sent (RFC 9113 §8.3.1:
/// `:authority` becomes Host, `:method` and `:path` the request line), and that head then
/// goes through the same strict ``HeadParser`` and the same forwarding edits as a request that
/// arrived in HTTP/1.1: one set of rules, one place where fields are judged. A member's
/// response head goes the other way, without its HTTP/1.1 connection-specific fields.
public enum HTTP2Translation {
    /// One field of an HTTP/2 header list, as HPACK decoded it.
    public typealias Field = (name: [UInt8], value: [UInt8])

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
    public static func requestHead(_ fields: [Field], hasBody: Bool) throws(MalformedRequest) -> [UInt8] {
        var method: [UInt8]?
        var path: [UInt8]?
        var authority: [UInt8]?
        var scheme: [UInt8]?
        var regular: [Field] = []
        var cookies: [[UInt8]] = []
        var hasContentLength = false
        for field in fields {
            guard !field.name.isEmpty else { throw MalformedRequest("empty field name") }
            if field.value.contains(where: { $0 == 0 || $0 == ASCII.cr || $0 == ASCII.lf }) {
                throw MalformedRequest("NUL, CR or LF in a field value")
            }
            if field.name[0] == ASCII.colon {
                guard regular.isEmpty && cookies.isEmpty else { throw MalformedRequest("pseudo-header after regular fields") }
                guard !field.value.contains(where: { $0 <= ASCII.sp || $0 == 0x7F }) else {
                    throw MalformedRequest("control or space in a pseudo-header value")
                }
                func once(_ slot: inout [UInt8]?) throws(MalformedRequest) {
                    guard slot == nil else { throw MalformedRequest("repeated pseudo-header") }
                    slot = field.value
                }
                switch String(decoding: field.name, as: UTF8.self) {
                case ":method": try once(&method)
                case ":path": try once(&path)
                case ":authority": try once(&authority)
                case ":scheme": try once(&scheme)
                default: throw MalformedRequest("unknown pseudo-header")
                }
                continue
            }
            guard field.name.allSatisfy({ ASCII.isTokenChar($0) && !($0 >= 0x41 && $0 <= 0x5A) }) else {
                throw MalformedRequest("field name not a lowercase token")
            }
            if let first = field.value.first, ASCII.isOWS(first) { throw MalformedRequest("whitespace around a field value") }
            if let last = field.value.last, ASCII.isOWS(last) { throw MalformedRequest("whitespace around a field value") }
            switch String(decoding: field.name, as: UTF8.self) {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
                throw MalformedRequest("connection-specific field")
            case "te":
                guard field.value == Array("trailers".utf8) else { throw MalformedRequest("TE other than trailers") }
            case "cookie":
                cookies.append(field.value)
            case "host":
                if authority == nil { regular.append(field) }
            case "content-length":
                hasContentLength = true
                regular.append(field)
            default:
                regular.append(field)
            }
        }
        guard let method, !method.isEmpty else { throw MalformedRequest("no :method") }
        var out: [UInt8] = []
        out.reserveCapacity(256 + fields.reduce(0) { $0 + $1.name.count + $1.value.count + 4 })
        out.append(contentsOf: method)
        out.append(ASCII.sp)
        if method == Array("CONNECT".utf8) {
            // Refused by the head parser like an HTTP/1.1 CONNECT (405).
            out.append(contentsOf: authority ?? [])
        } else {
            guard scheme != nil, let path, !path.isEmpty else { throw MalformedRequest("no :scheme or :path") }
            out.append(contentsOf: path)
        }
        appendStatic(&out, " HTTP/1.1\r\n")
        if let authority {
            appendStatic(&out, "Host: ")
            out.append(contentsOf: authority)
            appendCRLF(&out)
        }
        for field in regular {
            out.append(contentsOf: field.name)
            out.append(ASCII.colon)
            out.append(ASCII.sp)
            out.append(contentsOf: field.value)
            appendCRLF(&out)
        }
        if !cookies.isEmpty {
            appendStatic(&out, "cookie: ")
            for (i, crumb) in cookies.enumerated() {
                if i > 0 { appendStatic(&out, "; ") }
                out.append(contentsOf: crumb)
            }
            appendCRLF(&out)
        }
        if !hasContentLength {
            if hasBody {
                appendStatic(&out, "Transfer-Encoding: chunked\r\n")
            } else if ["POST", "PUT", "PATCH"].contains(where: { method.elementsEqual($0.utf8) }) {
                appendStatic(&out, "Content-Length: 0\r\n")
            }
        }
        appendCRLF(&out)
        return out
    }

    /// The size line of one chunk of `count` bytes (`count` > 0) in hex, CRLF-terminated.
    public static func chunkSizeLine(_ count: Int) -> [UInt8] {
        Array(String(count, radix: 16).utf8) + [ASCII.cr, ASCII.lf]
    }

    /// The chunked body's end: the last chunk and an empty trailer section.
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}

extension ResponseHead {
    /// The response head as an HTTP/2 field list: `:status`, then the member's fields in order,
    /// names lowercased (RFC 9113 §8.2.2), without Connection, Keep-Alive, Proxy-Connection, TE,
    /// Upgrade, Transfer-Encoding and the fields Connection names; Content-Length is kept unless
    /// the framing conflicted (HTTP/2 frames the body itself, but a length lets the client show
    /// progress). `extraFields` (Set-Cookie of persistence) come last.
    public func http2Fields(extraFields: [HTTP2Translation.Field] = []) -> [HTTP2Translation.Field] {
        var out: [HTTP2Translation.Field] = [(Array(":status".utf8), Array(String(status).utf8))]
        forEachHTTP2Field { name, value in out.append((name.map(ASCII.lower), Array(value))) }
        for extra in extraFields { out.append((extra.name.map(ASCII.lower), extra.value)) }
        return out
    }

    /// The member's fields that go on in HTTP/2, in order, as they are in the head (names not yet
    /// lowercased), without `:status`: what ``http2Fields(extraFields:)`` lists, for a caller
    /// that builds its own field list without copying each field into arrays first.
    public func forEachHTTP2Field(_ body: (_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> Void) {
        headers.storage.withUnsafeBufferPointer { p in
            for field in headers.fields {
                switch FieldKind.of(p, field.name) {
                case .connection, .proxyConnection, .keepAlive, .te, .upgrade, .transferEncoding:
                    continue
                case .contentLength:
                    if hadConflictingFraming { continue }
                case .host, .other, .xForwardedFor, .xForwardedProto, .spoofable:
                    if listedInConnection(p, field.name, connectionTokens) { continue }
                }
                body(UnsafeBufferPointer(rebasing: p[field.name]), UnsafeBufferPointer(rebasing: p[field.value]))
            }
        }
    }
}
