/// How a reverse proxy changes a request head before sending it upstream.
public struct ForwardingEdits: Sendable {
    /// Host value to send instead of the received one (for origins that expect their own name).
    /// When nil the received host is sent (for absolute-form, the target's authority, RFC 9112
    /// §3.2.2).
    public var replaceHost: [UInt8]?
    /// The client address as text, appended to X-Forwarded-For (`existing, ip`) or set when the
    /// request had none. Empty leaves X-Forwarded-For as received.
    public var forwardedFor: [UInt8]
    /// `https` or `http`, replacing any received X-Forwarded-Proto (a client must not be able to
    /// claim TLS it did not use). Nil leaves X-Forwarded-Proto as received.
    public var forwardedProto: [UInt8]?
    /// Forward an upgrade request (WebSocket) as one: keep Upgrade and send `Connection: Upgrade`.
    public var keepUpgrade: Bool
    /// Fields the proxy adds at the end (for example `Connection: close` towards an origin it
    /// will not reuse, or X-Forwarded-Host). Names that are not tokens, Content-Length and
    /// Transfer-Encoding are skipped; control bytes in values become SP.
    public var extraHeaders: [(name: [UInt8], value: [UInt8])]

    public init(replaceHost: [UInt8]? = nil, forwardedFor: [UInt8] = [], forwardedProto: [UInt8]? = nil, keepUpgrade: Bool = false,
                extraHeaders: [(name: [UInt8], value: [UInt8])] = []) {
        self.replaceHost = replaceHost
        self.forwardedFor = forwardedFor
        self.forwardedProto = forwardedProto
        self.keepUpgrade = keepUpgrade
        self.extraHeaders = extraHeaders
    }

    public static let protoHTTPS: [UInt8] = Array("https".utf8)
    public static let protoHTTP: [UInt8] = Array("http".utf8)
}

// MARK: - Field classification

/// Fields the forwarders treat specially, recognised by length and then a case-insensitive match.
enum FieldKind {
    case other, host, connection, proxyConnection, keepAlive, te, upgrade, transferEncoding
    case contentLength, xForwardedFor, xForwardedProto
    /// A request field a member may trust as if the proxy had set it, so a client must not:
    /// `X-Original-URL` and `X-Rewrite-URL` (IIS URL Rewrite and ASP.NET route on them, past the
    /// path the rules matched) and `X_Forwarded_For`, `X_Forwarded_Proto`, `X_Forwarded_Host`
    /// (CGI-style members map `_` and `-` onto the same HTTP_X_FORWARDED_* variable, so a
    /// client's underscore copy could stand in for the proxy's own field).
    case spoofable

    static func of(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> FieldKind {
        switch r.count {
        case 2: return equalsLowercase(p, r, "te") ? .te : .other
        case 4: return equalsLowercase(p, r, "host") ? .host : .other
        case 7: return equalsLowercase(p, r, "upgrade") ? .upgrade : .other
        case 10:
            if equalsLowercase(p, r, "connection") { return .connection }
            return equalsLowercase(p, r, "keep-alive") ? .keepAlive : .other
        case 13: return equalsLowercase(p, r, "x-rewrite-url") ? .spoofable : .other
        case 14:
            if equalsLowercase(p, r, "content-length") { return .contentLength }
            return equalsLowercase(p, r, "x-original-url") ? .spoofable : .other
        case 15:
            if equalsLowercase(p, r, "x-forwarded-for") { return .xForwardedFor }
            return equalsLowercase(p, r, "x_forwarded_for") ? .spoofable : .other
        case 16:
            if equalsLowercase(p, r, "proxy-connection") { return .proxyConnection }
            return equalsLowercase(p, r, "x_forwarded_host") ? .spoofable : .other
        case 17:
            if equalsLowercase(p, r, "transfer-encoding") { return .transferEncoding }
            if equalsLowercase(p, r, "x-forwarded-proto") { return .xForwardedProto }
            return equalsLowercase(p, r, "x_forwarded_proto") ? .spoofable : .other
        default: return .other
        }
    }
}

/// Whether a field is named by a Connection option and so is hop-by-hop (RFC 9110 §7.6.1).
/// Callers never ask this for Host, Content-Length or Transfer-Encoding: a client listing those
/// in Connection must not be able to strip the framing the proxy relies on.
func listedInConnection(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ tokens: [[UInt8]]) -> Bool {
    for token in tokens where token.count == r.count {
        var equal = true
        var k = 0
        for i in r {
            if ASCII.lower(p[i]) != token[k] {
                equal = false
                break
            }
            k += 1
        }
        if equal { return true }
    }
    return false
}

// MARK: - Writing helpers

@inline(__always)
func appendStatic(_ out: inout [UInt8], _ s: StaticString) {
    out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
}

@inline(__always)
func appendCRLF(_ out: inout [UInt8]) {
    out.append(ASCII.cr)
    out.append(ASCII.lf)
}

/// `name: value CRLF` for fields taken from a parsed head (already validated).
@inline(__always)
private func appendField(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>, _ field: HeaderField) {
    out.append(contentsOf: UnsafeBufferPointer(rebasing: p[field.name]))
    out.append(ASCII.colon)
    out.append(ASCII.sp)
    out.append(contentsOf: UnsafeBufferPointer(rebasing: p[field.value]))
    appendCRLF(&out)
}

/// Consecutive field lines forwarded unchanged, copied in one piece.
///
/// A line already written as ``appendField(_:_:_:)`` would write it (`name: value CRLF`, one SP,
/// no trailing whitespace), and that directly follows the previous kept line in the received
/// head, extends the run; anything else ends it. The output is byte for byte what appending the
/// fields one by one gives: each append costs about a hundred instructions, and an ordinary head
/// is one run.
struct LineRun {
    private var start = 0
    private var end = 0

    /// Starts the run with received bytes the caller has checked are what it would write.
    init(_ range: Range<Int> = 0..<0) {
        start = range.lowerBound
        end = range.upperBound
    }

    @inline(__always)
    mutating func keep(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>, _ field: HeaderField) {
        let nameEnd = field.name.upperBound
        let value = field.value
        if value.lowerBound == nameEnd &+ 2 && p[nameEnd] == ASCII.colon && p[nameEnd &+ 1] == ASCII.sp
            && p[value.upperBound] == ASCII.cr {
            if field.name.lowerBound != end {
                flush(&out, p)
                start = field.name.lowerBound
            }
            end = value.upperBound &+ 2
        } else {
            flush(&out, p)
            appendField(&out, p, field)
        }
    }

    /// Writes the run; call it before writing anything else.
    @inline(__always)
    mutating func flush(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>) {
        if end > start { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[start..<end])) }
        start = 0
        end = 0
    }
}

/// `name: value CRLF` for values supplied by the proxy itself. A name that is not a token is
/// skipped and control bytes in the value become SP, so no caller can inject a line break.
private func appendSanitisedField<N: Collection, V: Collection>(_ out: inout [UInt8], name: N, value: V)
where N.Element == UInt8, V.Element == UInt8 {
    guard !name.isEmpty, name.allSatisfy(ASCII.isTokenChar) else { return }
    out.append(contentsOf: name)
    out.append(ASCII.colon)
    out.append(ASCII.sp)
    appendSanitisedValue(&out, value)
    appendCRLF(&out)
}

/// A caller-supplied extra field. Content-Length and Transfer-Encoding are refused: the framing
/// of a forwarded message is the received one, and a second copy would desynchronise the peer.
private func appendExtraField(_ out: inout [UInt8], name: [UInt8], value: [UInt8]) {
    if ASCII.equalsCaseInsensitive(name, "content-length".utf8) || ASCII.equalsCaseInsensitive(name, "transfer-encoding".utf8) {
        return
    }
    appendSanitisedField(&out, name: name, value: value)
}

private func appendSanitisedValue<V: Collection>(_ out: inout [UInt8], _ value: V) where V.Element == UInt8 {
    // Nearly always clean (an address, a scheme, a host): one bulk copy then.
    if value.allSatisfy(ASCII.isFieldValueChar) {
        out.append(contentsOf: value)
        return
    }
    for c in value { out.append(ASCII.isFieldValueChar(c) ? c : ASCII.sp) }
}

private func appendDecimal(_ out: inout [UInt8], _ value: Int) {
    if value < 0 {
        out.append(0x2D)
        appendDecimal(&out, -value)
        return
    }
    if value >= 10 { appendDecimal(&out, value / 10) }
    out.append(UInt8(0x30 + value % 10))
}

// MARK: - Requests

extension RequestHead {
    /// Appends the head to send upstream: `method SP target SP HTTP/1.1`, then the fields in
    /// received order and case, then CRLF CRLF. An absolute-form target is sent in origin-form
    /// (its path, `/` when empty, and query); every other target byte for byte.
    ///
    /// - Hop-by-hop fields are dropped (RFC 9110 §7.6.1): Connection, Proxy-Connection, Keep-Alive,
    ///   TE, Upgrade and every field named in Connection, except that Host, Content-Length and
    ///   Transfer-Encoding are always kept: the body is forwarded verbatim (still chunked), so its
    ///   framing must reach the origin unchanged. Transfer-Encoding is written as exactly
    ///   `Transfer-Encoding: chunked` (the only request framing the parser accepts with it).
    /// - For an upgrade request with `keepUpgrade`, Upgrade is kept and `Connection: Upgrade` sent
    ///   where the first Connection field was (RFC 9110 §7.8). An Upgrade offering h2c is never
    ///   kept.
    /// - Host is replaced in place when `replaceHost` is set; for absolute-form the authority
    ///   replaces the received Host (RFC 9112 §3.2.2); a request without Host (HTTP/1.0) gets one
    ///   first, since HTTP/1.1 requires it.
    /// - X-Forwarded-For gets the client appended to its last line, or is added at the end;
    ///   X-Forwarded-Proto is replaced in place (further copies dropped) or added at the end;
    ///   X-Original-URL, X-Rewrite-URL and the underscore spellings of X-Forwarded-For, -Proto
    ///   and -Host are dropped (see ``FieldKind/spoofable``);
    ///   `edits.extraHeaders` come last.
    public func writeForwarded(into out: inout [UInt8], edits: ForwardingEdits) {
        let storage = headers.storage
        let fields = headers.fields
        // An h2c upgrade is never passed on: RFC 9113 §3.1 retired it, and a proxy that relays it
        // lets the client speak HTTP/2 straight to the origin, past every rule the proxy applies.
        let upgrading = edits.keepUpgrade && upgradeRange != nil && !upgradeListContains("h2c")
        out.reserveCapacity(out.count + storage.count + 128)
        storage.withUnsafeBufferPointer { p in
            var run = LineRun()
            if targetForm != .absolute, let line = canonicalRequestLine(p) {
                // `method SP target SP HTTP/1.1 CRLF` as received: the first piece of the run.
                run = LineRun(line)
            } else {
                writeRequestLine(&out, p)
            }

            var hasHost = false
            var lastXFF = -1
            for (index, field) in fields.enumerated() {
                switch FieldKind.of(p, field.name) {
                case .host: hasHost = true
                case .xForwardedFor: lastXFF = index
                default: break
                }
            }

            if !hasHost {
                run.flush(&out, p)
                appendStatic(&out, "Host: ")
                if let replace = edits.replaceHost {
                    appendSanitisedValue(&out, replace)
                } else if let hostRange {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: p[hostRange]))
                }
                appendCRLF(&out)
            }

            var connectionWritten = false
            var protoWritten = false
            for (index, field) in fields.enumerated() {
                switch FieldKind.of(p, field.name) {
                case .host:
                    if edits.replaceHost == nil && hostRange == field.value {
                        run.keep(&out, p, field)
                        continue
                    }
                    run.flush(&out, p)
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: p[field.name]))
                    appendStatic(&out, ": ")
                    if let replace = edits.replaceHost {
                        appendSanitisedValue(&out, replace)
                    } else if let hostRange {
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: p[hostRange]))
                    }
                    appendCRLF(&out)
                case .connection:
                    if upgrading && !connectionWritten {
                        run.flush(&out, p)
                        appendStatic(&out, "Connection: Upgrade\r\n")
                        connectionWritten = true
                    }
                case .upgrade:
                    if upgrading { run.keep(&out, p, field) }
                case .proxyConnection, .keepAlive, .te, .spoofable:
                    break
                case .transferEncoding:
                    // The parser let through only one line whose value is `chunked` in some
                    // case and spacing; the member gets the one spelling every server reads alike.
                    run.flush(&out, p)
                    appendStatic(&out, "Transfer-Encoding: chunked\r\n")
                case .contentLength:
                    run.keep(&out, p, field)
                case .xForwardedFor:
                    if index == lastXFF && !edits.forwardedFor.isEmpty {
                        run.flush(&out, p)
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: p[field.name]))
                        appendStatic(&out, ": ")
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: p[field.value]))
                        if !field.value.isEmpty { appendStatic(&out, ", ") }
                        appendSanitisedValue(&out, edits.forwardedFor)
                        appendCRLF(&out)
                    } else if !listedInConnection(p, field.name, connectionTokens) || !edits.forwardedFor.isEmpty {
                        run.keep(&out, p, field)
                    }
                case .xForwardedProto:
                    if let proto = edits.forwardedProto {
                        if !protoWritten {
                            run.flush(&out, p)
                            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[field.name]))
                            appendStatic(&out, ": ")
                            appendSanitisedValue(&out, proto)
                            appendCRLF(&out)
                            protoWritten = true
                        }
                    } else if !listedInConnection(p, field.name, connectionTokens) {
                        run.keep(&out, p, field)
                    }
                case .other:
                    if !listedInConnection(p, field.name, connectionTokens) { run.keep(&out, p, field) }
                }
            }
            run.flush(&out, p)
            if upgrading && !connectionWritten { appendStatic(&out, "Connection: Upgrade\r\n") }
            if lastXFF < 0 && !edits.forwardedFor.isEmpty {
                appendStatic(&out, "X-Forwarded-For: ")
                appendSanitisedValue(&out, edits.forwardedFor)
                appendCRLF(&out)
            }
            if let proto = edits.forwardedProto, !protoWritten {
                appendStatic(&out, "X-Forwarded-Proto: ")
                appendSanitisedValue(&out, proto)
                appendCRLF(&out)
            }
            for extra in edits.extraHeaders { appendExtraField(&out, name: extra.name, value: extra.value) }
            appendCRLF(&out)
        }
    }
}

extension RequestHead {
    /// The request line's bytes when they are exactly what ``writeForwarded(into:edits:)``
    /// writes for an origin-, authority- or asterisk-form target: one SP on each side of the
    /// target, `HTTP/1.1` and CRLF.
    fileprivate func canonicalRequestLine(_ p: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        let afterTarget = targetRange.upperBound
        guard version == .http1_1, methodRange.lowerBound == 0, targetRange.lowerBound == methodRange.upperBound &+ 1,
              afterTarget &+ 11 <= p.count
        else { return nil }
        let tail: StaticString = " HTTP/1.1\r\n"
        for k in 0..<11 where p[afterTarget &+ k] != tail.utf8Start[k] { return nil }
        return 0..<(afterTarget &+ 11)
    }

    /// `method SP target SP HTTP/1.1 CRLF`, the target in origin-form.
    fileprivate func writeRequestLine(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>) {
        out.append(contentsOf: UnsafeBufferPointer(rebasing: p[methodRange]))
        out.append(ASCII.sp)
        if targetForm == .absolute {
            // Origin-form (RFC 9112 §3.2.1): the authority goes to the member only as Host,
            // which the rule decides (original or the member's own). Members (http.sys,
            // IIS) would otherwise route on the target's authority and skip that decision.
            if pathRange.isEmpty { out.append(0x2F) } else { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[pathRange])) }
            if let queryRange {
                out.append(0x3F)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[queryRange]))
            }
        } else {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[targetRange]))
        }
        appendStatic(&out, " HTTP/1.1\r\n")
    }
}

// MARK: - Responses

extension ResponseHead {
    /// Appends the head to send to the client: `HTTP/1.1 code reason` (reason as received), the
    /// fields in received order and case, `extraHeaders`, CRLF CRLF.
    ///
    /// - Hop-by-hop fields are dropped as for requests (Transfer-Encoding kept: the body is
    ///   forwarded verbatim). Repeated fields such as Set-Cookie and WWW-Authenticate stay
    ///   separate lines in order (RFC 9110 §5.3).
    /// - With ``hadConflictingFraming`` Content-Length is dropped: Transfer-Encoding won, and a
    ///   proxy MUST remove the Content-Length before forwarding (RFC 9112 §6.3 rule 3).
    /// - A 101 with `keepUpgrade` keeps Upgrade and gets `Connection: Upgrade`; otherwise
    ///   `close` adds `Connection: close`.
    /// - `dechunked`: the caller will send the body de-chunked (`BodyProgress.payload`) to an
    ///   HTTP/1.0 client, which does not know chunked (RFC 9112 §6.1): Transfer-Encoding and
    ///   Content-Length are dropped and `Connection: close` is sent, the body ending at close.
    public func writeForwarded(into out: inout [UInt8], extraHeaders: [(name: [UInt8], value: [UInt8])] = [], close: Bool, keepUpgrade: Bool,
                               dechunked: Bool = false) {
        let close = close || dechunked
        let storage = headers.storage
        let fields = headers.fields
        let upgrading = keepUpgrade && isSwitchingProtocols
        out.reserveCapacity(out.count + storage.count + 64)
        storage.withUnsafeBufferPointer { p in
            var run = LineRun()
            if let line = canonicalStatusLine(p) {
                // `HTTP/1.1 code SP reason CRLF` as received: the first piece of the run.
                run = LineRun(line)
            } else {
                appendStatic(&out, "HTTP/1.1 ")
                appendDecimal(&out, status)
                out.append(ASCII.sp)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[reasonRange]))
                appendCRLF(&out)
            }
            for field in fields {
                switch FieldKind.of(p, field.name) {
                case .connection, .proxyConnection, .keepAlive, .te:
                    break
                case .upgrade:
                    if upgrading { run.keep(&out, p, field) }
                case .host:
                    run.keep(&out, p, field)
                case .transferEncoding:
                    if !dechunked { run.keep(&out, p, field) }
                case .contentLength:
                    if !hadConflictingFraming && !dechunked { run.keep(&out, p, field) }
                case .other, .xForwardedFor, .xForwardedProto, .spoofable:
                    if !listedInConnection(p, field.name, connectionTokens) { run.keep(&out, p, field) }
                }
            }
            run.flush(&out, p)
            if upgrading {
                appendStatic(&out, "Connection: Upgrade\r\n")
            } else if close {
                appendStatic(&out, "Connection: close\r\n")
            }
            for extra in extraHeaders { appendExtraField(&out, name: extra.name, value: extra.value) }
            appendCRLF(&out)
        }
    }
}

extension ResponseHead {
    /// The status line's bytes when they are exactly what
    /// ``writeForwarded(into:extraHeaders:close:keepUpgrade:dechunked:)`` writes: `HTTP/1.1`,
    /// one SP, the three digits, one SP, the reason and CRLF.
    fileprivate func canonicalStatusLine(_ p: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        guard version == .http1_1, reasonRange.lowerBound == 13, p.count > reasonRange.upperBound,
              p[reasonRange.upperBound] == ASCII.cr, p[8] == ASCII.sp, p[12] == ASCII.sp
        else { return nil }
        let prefix: StaticString = "HTTP/1.1"
        for k in 0..<8 where p[k] != prefix.utf8Start[k] { return nil }
        // The parser read exactly three digits here; they are the status written otherwise.
        return 0..<(reasonRange.upperBound &+ 2)
    }
}

/// Appends a complete short response generated by the proxy itself (errors, redirects):
/// `text/plain; charset=utf-8` with an exact Content-Length, `Connection: close` when `close`.
/// Control bytes in `reason` and in extra values become SP, so nothing can inject lines.
public func writeSimpleResponse(status: Int, reason: String, body: String, extraHeaders: [(name: [UInt8], value: [UInt8])] = [], close: Bool, into out: inout [UInt8]) {
    let bodyBytes = body.utf8
    out.reserveCapacity(out.count + 128 + bodyBytes.count)
    appendStatic(&out, "HTTP/1.1 ")
    appendDecimal(&out, status)
    out.append(ASCII.sp)
    appendSanitisedValue(&out, reason.utf8)
    appendStatic(&out, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ")
    appendDecimal(&out, bodyBytes.count)
    appendCRLF(&out)
    if close { appendStatic(&out, "Connection: close\r\n") }
    for extra in extraHeaders { appendExtraField(&out, name: extra.name, value: extra.value) }
    appendCRLF(&out)
    out.append(contentsOf: bodyBytes)
}
