/// What one ``HeadParser/parse(_:)`` call produced.
public enum HeadParseResult: Sendable, Hashable {
    /// The head is not complete yet; all `consumed` bytes (always the whole input) were taken.
    case needMore(consumed: Int)
    /// A complete request head; the first `consumed` bytes of the input belonged to it.
    /// Anything after them (body, a pipelined request) was not consumed.
    case request(RequestHead, consumed: Int)
    /// A complete response head, as for ``request(_:consumed:)``.
    case response(ResponseHead, consumed: Int)
    /// The head is invalid; the connection cannot be resynchronised and must be closed after
    /// answering (RFC 9112 §11.2).
    case failure(HTTPHeadError)
}

/// An incremental, strict HTTP/1.1 message-head parser: one per connection direction.
///
/// Feed it the bytes as they arrive, in any split (one byte at a time works). Each head ends up in
/// one contiguous array of its own, with fields recorded as ranges into it, so the only per-head
/// allocations are that array and the field table. A head that arrives whole in one read (nearly
/// all of them) is validated where it lies and copied once, in bulk; one split across reads is
/// gathered line by line. Lines are found with a tight scan for LF; each complete line is
/// validated once. Nothing is decoded and no `String` is made.
///
/// Only CRLF ends a line (RFC 9112 §2.2 allows a bare LF to be accepted, but a proxy that accepts
/// what its origin rejects, or the reverse, is a smuggling vector), so bare CR and bare LF are
/// errors.
///
/// After a head (or a failure) is returned, call ``reset()`` before feeding the next message;
/// feeding a parser that returned a head resets it implicitly, one that failed keeps failing.
public struct HeadParser: Sendable {
    public let kind: MessageKind
    public let limits: HeadLimits

    /// Empty lines tolerated before a request line (RFC 9112 §2.2: "SHOULD ignore at least one").
    public static let maxLeadingEmptyLines = 4

    private enum Phase: Sendable {
        case startLine
        case fields
        case done
        case failed(HTTPHeadError)
    }

    private var phase: Phase = .startLine
    private var buffer: [UInt8] = []
    private var fields: [HeaderField] = []
    /// Index in `buffer` where the line being read starts.
    private var lineStart = 0
    /// Bytes of complete field lines so far, CRLFs included.
    private var headerBytes = 0
    private var leadingEmptyLines = 0
    private var startLine = StartLine()
    private var capacityHint = 1024

    public init(kind: MessageKind, limits: HeadLimits = HeadLimits()) {
        self.kind = kind
        self.limits = limits
    }

    /// Prepares for the next message on the same connection.
    ///
    /// A returned head owns its bytes (the buffer moves into it, no copy), so the next head gets a
    /// fresh buffer reserved at about twice the previous head's size; reusing the old one would
    /// only trigger a copy-on-write while the previous head is still in flight.
    public mutating func reset() {
        phase = .startLine
        buffer.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
        lineStart = 0
        headerBytes = 0
        leadingEmptyLines = 0
        startLine = StartLine()
    }

    /// Feeds bytes; see ``HeadParseResult`` for what `consumed` means.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> HeadParseResult {
        switch phase {
        case .failed(let error): return .failure(error)
        case .done: reset()
        case .startLine, .fields: break
        }
        return bytes.withMemoryRebound(to: UInt8.self) { input in
            buffer.isEmpty ? parseInPlace(input) : parseBuffered(input)
        }
    }

    /// A head that starts at the beginning of `input` (the usual case: it arrives whole in one
    /// read) is parsed where it lies and copied once, in bulk, when it is complete. If the input
    /// ends first, what was read of the head is copied into `buffer` in one go, exactly what
    /// ``parseBuffered(_:)`` would have gathered line by line, and the next call goes on there.
    private mutating func parseInPlace(_ input: UnsafeBufferPointer<UInt8>) -> HeadParseResult {
        let n = input.count
        // Where the head starts in `input`: after any leading empty lines.
        var base = 0
        var i = 0
        while i < n {
            let j = indexOfLF(UnsafeRawBufferPointer(input), from: i)
            if j == n {
                if let error = partialLineLimitError(length: n - i, endsWithCR: input[n - 1] == ASCII.cr) {
                    return fail(error)
                }
                break
            }
            if let error = completeLineLimitError(length: j + 1 - i, hasCR: j > i && input[j - 1] == ASCII.cr) {
                return fail(error)
            }
            let head = UnsafeBufferPointer(rebasing: input[base..<n])
            let outcome = processLine(head, from: i - base, to: j + 1 - base)
            i = j + 1
            switch outcome {
            case .proceed:
                continue
            case .leadingEmptyLine:
                base = i
            case .failed(let error):
                return fail(error)
            case .endOfHead:
                return finish(storage: Array(input[base..<i]), consumed: i)
            }
        }
        lineStart = i - base
        append(input, base, n)
        return .needMore(consumed: n)
    }

    /// Goes on with a head whose start is already in `buffer`: each line is appended to it and
    /// then validated there.
    private mutating func parseBuffered(_ bytes: UnsafeBufferPointer<UInt8>) -> HeadParseResult {
        let n = bytes.count
        var i = 0
        while i < n {
            let j = indexOfLF(UnsafeRawBufferPointer(bytes), from: i)
            if j == n {
                // The line goes on in a later call. Check the limits now so that a client cannot
                // make us buffer an endless line.
                let partial = buffer.count - lineStart + (n - i)
                if let error = partialLineLimitError(length: partial, endsWithCR: bytes[n - 1] == ASCII.cr) {
                    return fail(error)
                }
                append(bytes, i, n)
                return .needMore(consumed: n)
            }
            let lineLength = buffer.count - lineStart + (j + 1 - i)
            let hasCR: Bool
            if j > i {
                hasCR = bytes[j - 1] == ASCII.cr
            } else {
                hasCR = buffer.count > lineStart && buffer[buffer.count - 1] == ASCII.cr
            }
            if let error = completeLineLimitError(length: lineLength, hasCR: hasCR) {
                return fail(error)
            }
            append(bytes, i, j + 1)
            i = j + 1
            let end = buffer.count
            let start = lineStart
            let outcome = buffer.withUnsafeBufferPointer { processLine($0, from: start, to: end) }
            switch outcome {
            case .proceed:
                lineStart = end
            case .leadingEmptyLine:
                buffer.removeAll(keepingCapacity: true)
                lineStart = 0
            case .failed(let error):
                return fail(error)
            case .endOfHead:
                let storage = buffer
                buffer = []
                return finish(storage: storage, consumed: i)
            }
        }
        return .needMore(consumed: n)
    }

    // MARK: - Lines

    private mutating func fail(_ error: HTTPHeadError) -> HeadParseResult {
        phase = .failed(error)
        return .failure(error)
    }

    private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) {
        guard from < to else { return }
        if buffer.capacity == 0 { buffer.reserveCapacity(Swift.max(capacityHint, to - from)) }
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[from..<to]))
    }

    /// Limit check for an incomplete line of `length` bytes. It fires only when the completed line
    /// would certainly exceed the limit, so any split of the input gives the same verdict.
    private func partialLineLimitError(length: Int, endsWithCR: Bool) -> HTTPHeadError? {
        switch phase {
        case .startLine:
            if length - (endsWithCR ? 1 : 0) > limits.maxRequestLine { return .requestLineTooLong }
        case .fields:
            // A lone CR may still become the empty line that ends the head, which is not counted.
            if !(length == 1 && endsWithCR) && headerBytes + length + 1 > limits.maxHeaderBytes {
                return .headersTooLarge
            }
        case .done, .failed:
            break
        }
        return nil
    }

    /// Limit check for a complete line of `length` bytes including its LF.
    private func completeLineLimitError(length: Int, hasCR: Bool) -> HTTPHeadError? {
        switch phase {
        case .startLine:
            if length - 1 - (hasCR ? 1 : 0) > limits.maxRequestLine { return .requestLineTooLong }
        case .fields:
            if !(length == 2 && hasCR) && headerBytes + length > limits.maxHeaderBytes {
                return .headersTooLarge
            }
        case .done, .failed:
            break
        }
        return nil
    }

    private enum LineOutcome {
        case proceed
        /// An empty line before the request line: dropped, the head starts after it.
        case leadingEmptyLine
        /// The empty line that ends the head: ``finish(storage:consumed:)`` builds it.
        case endOfHead
        case failed(HTTPHeadError)
    }

    /// Handles the complete line `head[start..<end]` (which ends in LF); `head` holds the head
    /// read so far from its first byte, wherever it lies.
    private mutating func processLine(_ head: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> LineOutcome {
        let lf = end - 1
        guard lf > start, head[lf - 1] == ASCII.cr else { return .failed(.bareLF) }
        let contentEnd = lf - 1
        switch phase {
        case .startLine:
            if contentEnd == start {
                guard kind == .request else { return .failed(.invalidStatusLine) }
                guard leadingEmptyLines < Self.maxLeadingEmptyLines else {
                    return .failed(.tooManyLeadingEmptyLines)
                }
                leadingEmptyLines += 1
                return .leadingEmptyLine
            }
            let parsed = kind == .request ? parseRequestLine(head, end: contentEnd) : parseStatusLine(head, end: contentEnd)
            switch parsed {
            case .success(let line): startLine = line
            case .failure(let error): return .failed(error)
            }
            phase = .fields
            return .proceed
        case .fields:
            if contentEnd == start { return .endOfHead }
            if fields.count >= limits.maxHeaderCount { return .failed(.tooManyHeaders) }
            headerBytes += end - start
            switch parseFieldLine(head, start..<contentEnd) {
            case .success(let field):
                if fields.capacity == 0 { fields.reserveCapacity(16) }
                fields.append(field)
            case .failure(let error):
                return .failed(error)
            }
            return .proceed
        case .done, .failed:
            return .failed(.invalidRequestLine)
        }
    }

    /// Builds the head from its complete bytes; they and the field table move into it.
    private mutating func finish(storage: [UInt8], consumed: Int) -> HeadParseResult {
        let fieldList = fields
        fields = []
        capacityHint = Swift.min(Swift.max(1024, storage.count * 2), limits.maxRequestLine + limits.maxHeaderBytes + 8)
        let line = startLine
        let kind = self.kind
        let analysed = storage.withUnsafeBufferPointer { analyseFields($0, fieldList, kind: kind) }
        let facts: FieldFacts
        switch analysed {
        case .success(let f): facts = f
        case .failure(let error): return fail(error)
        }
        let headers = HTTPHeaders(storage: storage, fields: fieldList)
        let keepAlive: Bool
        if line.version == .http1_1 {
            keepAlive = !facts.connectionClose
        } else {
            keepAlive = facts.connectionKeepAlive && !facts.connectionClose
        }
        let upgradeRange = facts.connectionUpgrade ? facts.upgrade : nil

        switch kind {
        case .request:
            // RFC 9112 §6.3 rule 3: both is a smuggling attempt; §6.1: TE in 1.0 is faulty framing.
            let framing: BodyFraming
            switch requestFraming(facts, version: line.version) {
            case .success(let f): framing = f
            case .failure(let error): return fail(error)
            }
            // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
            if line.version == .http1_1 && facts.hostValue == nil { return fail(.missingHost) }
            let hostRange = line.form == .absolute ? line.authority : facts.hostValue
            let head = RequestHead(
                headers: headers,
                version: line.version,
                framing: framing,
                keepAlive: keepAlive,
                expectsContinue: facts.expectsContinue,
                connectionTokens: facts.connectionTokens,
                targetForm: line.form,
                methodRange: line.method,
                targetRange: line.target,
                hostRange: hostRange,
                upgradeRange: upgradeRange,
                pathRange: line.path,
                queryRange: line.query
            )
            phase = .done
            return .request(head, consumed: consumed)
        case .response:
            let head = ResponseHead(
                headers: headers,
                version: line.version,
                status: line.status,
                connectionTokens: facts.connectionTokens,
                keepAlive: keepAlive,
                hadConflictingFraming: facts.transferEncodingSeen && facts.contentLength != nil,
                reasonRange: line.reason,
                chunkedFinal: facts.transferEncodingSeen ? facts.chunkedFinal : nil,
                contentLength: facts.contentLength,
                upgradeRange: upgradeRange
            )
            phase = .done
            return .response(head, consumed: consumed)
        }
    }
}

/// How a request body is delimited, or why its framing is refused.
///
/// RFC 9112 §6.3 rule 3: Content-Length with Transfer-Encoding is a smuggling attempt; §6.1:
/// Transfer-Encoding in 1.0 is faulty framing. Beyond the RFC, a request's Transfer-Encoding
/// must be canonical: exactly one field line whose value is the single coding `chunked`. Every
/// other spelling is one that members read differently (IIS, http.sys and some Java servers
/// take the last line or the last list element, others the first or the joined list), so an
/// ambiguous one — several lines, an empty value or element, a list — is 400, and a lone
/// coding the proxy does not implement (`gzip` alone) is 501, as §6.1 says for an unknown
/// coding. The forwarded head then always carries `Transfer-Encoding: chunked` verbatim.
private func requestFraming(_ facts: FieldFacts, version: HTTPVersion) -> Result<BodyFraming, HTTPHeadError> {
    guard facts.transferEncodingSeen else {
        if let length = facts.contentLength { return .success(.contentLength(length)) }
        return .success(.none)
    }
    if facts.contentLength != nil { return .failure(.contentLengthWithTransferEncoding) }
    if version == .http1_0 { return .failure(.transferEncodingInHTTP10) }
    if facts.transferEncodingLines > 1 { return .failure(.repeatedTransferEncoding) }
    if facts.emptyCodingSeen { return .failure(.invalidTransferEncoding) }
    if facts.codingCount == 1 && facts.chunkedCount == 0 { return .failure(.transferCodingNotImplemented) }
    if !facts.chunkedFinal { return .failure(.transferEncodingNotChunked) }
    if facts.codingCount > 1 { return .failure(.transferCodingBeforeChunked) }
    return .success(.chunked)
}

// MARK: - Line scanning

/// The index of the first LF in `bytes[from...]`, or `bytes.count`. Scans eight bytes at a time
/// (SWAR zero-byte test on `word ^ 0x0A…0A`), since this loop sees every byte of every head.
@inline(__always)
private func indexOfLF(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int {
    let n = bytes.count
    var j = from
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let lfs: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
    while j + 8 <= n {
        let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: j, as: UInt64.self)) ^ lfs
        let found = (word &- ones) & ~word & highs
        if found != 0 { return j + found.trailingZeroBitCount / 8 }
        j += 8
    }
    while j < n && bytes[j] != ASCII.lf { j += 1 }
    return j
}

/// The index of the first byte in `p[from..<end]` failing `isValid`, or nil. Bytes are checked
/// eight at a time for the only candidates (bytes below `threshold`, and DEL); a word holding
/// one is then checked byte by byte. Field values and targets are most of a head's bytes.
@inline(__always)
private func firstInvalidByte(_ p: UnsafeBufferPointer<UInt8>, _ from: Int, _ end: Int, threshold: UInt8,
                              _ isValid: (UInt8) -> Bool) -> Int? {
    var v = from
    if let base = p.baseAddress {
        let raw = UnsafeRawPointer(base)
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below = ones &* UInt64(threshold)
        let dels = ones &* 0x7F
        while v &+ 8 <= end {
            let word = raw.loadUnaligned(fromByteOffset: v, as: UInt64.self)
            let low = (word &- below) & ~word & highs
            let x = word ^ dels
            let del = (x &- ones) & ~x & highs
            if (low | del) != 0 {
                for k in v..<(v &+ 8) where !isValid(p[k]) { return k }
            }
            v &+= 8
        }
    }
    while v < end {
        if !isValid(p[v]) { return v }
        v &+= 1
    }
    return nil
}

// MARK: - Start lines

/// The parsed start line; request and status line fields share one struct.
struct StartLine: Sendable {
    var method: Range<Int> = 0..<0
    var target: Range<Int> = 0..<0
    var form: RequestTargetForm = .origin
    var authority: Range<Int>? = nil
    var path: Range<Int> = 0..<0
    var query: Range<Int>? = nil
    var version: HTTPVersion = .http1_1
    var status: Int = 0
    var reason: Range<Int> = 0..<0
}

@inline(__always)
private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

@inline(__always)
private func isAlpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }

/// `HTTP-version = HTTP-name "/" DIGIT "." DIGIT`, case-sensitive (RFC 9112 §2.3).
private func parseVersion(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Result<HTTPVersion, HTTPHeadError> {
    let l = r.lowerBound
    guard r.count == 8,
          p[l] == 0x48, p[l + 1] == 0x54, p[l + 2] == 0x54, p[l + 3] == 0x50, p[l + 4] == 0x2F,
          isDigit(p[l + 5]), p[l + 6] == 0x2E, isDigit(p[l + 7])
    else { return .failure(.malformedVersion) }
    let version = HTTPVersion(major: Int(p[l + 5] - 0x30), minor: Int(p[l + 7] - 0x30))
    guard version == .http1_1 || version == .http1_0 else { return .failure(.versionNotSupported) }
    return .success(version)
}

@inline(__always)
private func equalsBytes(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ s: StaticString) -> Bool {
    guard r.count == s.utf8CodeUnitCount else { return false }
    let q = s.utf8Start
    var k = 0
    for i in r {
        if p[i] != q[k] { return false }
        k += 1
    }
    return true
}

/// Case-insensitive comparison against a lowercase literal.
@inline(__always)
func equalsLowercase(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ s: StaticString) -> Bool {
    guard r.count == s.utf8CodeUnitCount else { return false }
    let q = s.utf8Start
    var k = 0
    for i in r {
        if ASCII.lower(p[i]) != q[k] { return false }
        k += 1
    }
    return true
}

/// `request-line = method SP request-target SP HTTP-version` (RFC 9112 §3), exactly one SP each.
private func parseRequestLine(_ p: UnsafeBufferPointer<UInt8>, end: Int) -> Result<StartLine, HTTPHeadError> {
    var sp1 = 0
    while sp1 < end && p[sp1] != ASCII.sp { sp1 += 1 }
    guard sp1 < end else { return .failure(.invalidRequestLine) }
    guard sp1 > 0 else { return .failure(.invalidMethod) }
    for k in 0..<sp1 where !ASCII.isTokenChar(p[k]) {
        return .failure(p[k] == ASCII.cr ? .bareCR : .invalidMethod)
    }
    var sp2 = end - 1
    while sp2 > sp1 && p[sp2] != ASCII.sp { sp2 -= 1 }
    guard sp2 > sp1 + 1 else { return .failure(.invalidRequestLine) }
    let target = (sp1 + 1)..<sp2
    // The target is passed on byte for byte: bytes >= 0x80 and %-escapes are fine, but SP and
    // control bytes would let two parsers disagree on where it ends. A `#` is not in the
    // request-target grammar (RFC 9112 §3.2: clients never send the fragment); servers differ
    // on whether it ends the path, so the path the rules matched may not be the one served.
    if let k = firstInvalidByte(p, target.lowerBound, target.upperBound, threshold: 0x24, { $0 > 0x20 && $0 != 0x7F && $0 != 0x23 }) {
        switch p[k] {
        case ASCII.cr: return .failure(.bareCR)
        case 0x23: return .failure(.fragmentInTarget)
        default: return .failure(.invalidTarget)
        }
    }
    let version: HTTPVersion
    switch parseVersion(p, (sp2 + 1)..<end) {
    case .success(let v): version = v
    case .failure(let e): return .failure(e)
    }

    var line = StartLine()
    line.method = 0..<sp1
    line.target = target
    line.version = version
    if equalsBytes(p, line.method, "CONNECT") { return .failure(.connectNotSupported) }

    let first = p[target.lowerBound]
    if first == 0x2F {
        line.form = .origin
        splitPathQuery(p, target, into: &line)
    } else if target.count == 1 && first == 0x2A {
        guard equalsBytes(p, line.method, "OPTIONS") else { return .failure(.asteriskFormWithoutOptions) }
        line.form = .asterisk
        line.path = target
    } else if let schemeEnd = absoluteFormSchemeEnd(p, target) {
        // scheme "://" authority path-abempty [ "?" query ] (RFC 9112 §3.2.2)
        let authorityStart = schemeEnd + 3
        var a = authorityStart
        while a < target.upperBound && p[a] != 0x2F && p[a] != 0x3F && p[a] != 0x23 { a += 1 }
        let authority = authorityStart..<a
        // userinfo (`@`) is deprecated for http(s) (RFC 9110 §4.2.4) and only confuses routing.
        guard !authority.isEmpty else { return .failure(.invalidTarget) }
        for k in authority where !ASCII.isAuthorityChar(p[k]) { return .failure(.invalidTarget) }
        line.form = .absolute
        line.authority = authority
        splitPathQuery(p, a..<target.upperBound, into: &line)
    } else {
        // authority-form is only for CONNECT (RFC 9112 §3.2.3), which this proxy does not tunnel.
        var looksLikeAuthority = false
        for k in target {
            let c = p[k]
            if !ASCII.isAuthorityChar(c) { return .failure(.invalidTarget) }
            if c == ASCII.colon { looksLikeAuthority = true }
        }
        return .failure(looksLikeAuthority ? .connectNotSupported : .invalidTarget)
    }
    return .success(line)
}

private func splitPathQuery(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, into line: inout StartLine) {
    var q = r.lowerBound
    while q < r.upperBound && p[q] != 0x3F { q += 1 }
    line.path = r.lowerBound..<q
    line.query = q < r.upperBound ? (q + 1)..<r.upperBound : nil
}

/// If `r` starts with `scheme "://"` (RFC 3986 §3.1), the index of the colon.
private func absoluteFormSchemeEnd(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
    var k = r.lowerBound
    guard isAlpha(p[k]) else { return nil }
    k += 1
    while k < r.upperBound {
        let c = p[k]
        if isAlpha(c) || isDigit(c) || c == 0x2B || c == 0x2D || c == 0x2E {
            k += 1
            continue
        }
        break
    }
    guard k + 2 < r.upperBound, p[k] == ASCII.colon, p[k + 1] == 0x2F, p[k + 2] == 0x2F else { return nil }
    return k
}

/// `status-line = HTTP-version SP status-code SP [ reason-phrase ]` (RFC 9112 §4). A missing SP
/// after the code is tolerated: it is common and changes nothing about framing.
private func parseStatusLine(_ p: UnsafeBufferPointer<UInt8>, end: Int) -> Result<StartLine, HTTPHeadError> {
    guard end >= 12 else {
        if end >= 8, case .failure(let e) = parseVersion(p, 0..<8) { return .failure(e) }
        return .failure(.invalidStatusLine)
    }
    var line = StartLine()
    switch parseVersion(p, 0..<8) {
    case .success(let v): line.version = v
    case .failure(let e): return .failure(e)
    }
    guard p[8] == ASCII.sp, isDigit(p[9]), isDigit(p[10]), isDigit(p[11]) else {
        return .failure(.invalidStatusLine)
    }
    let status = Int(p[9] - 0x30) * 100 + Int(p[10] - 0x30) * 10 + Int(p[11] - 0x30)
    // RFC 9110 §15: values outside 100...599 are invalid.
    guard status >= 100 && status <= 599 else { return .failure(.invalidStatusLine) }
    line.status = status
    if end == 12 {
        line.reason = 12..<12
    } else {
        guard p[12] == ASCII.sp else { return .failure(.invalidStatusLine) }
        for k in 13..<end where !ASCII.isFieldValueChar(p[k]) {
            return .failure(p[k] == ASCII.cr ? .bareCR : .invalidStatusLine)
        }
        line.reason = 13..<end
    }
    return .success(line)
}

// MARK: - Field lines

/// `field-line = field-name ":" OWS field-value OWS` (RFC 9112 §5).
private func parseFieldLine(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Result<HeaderField, HTTPHeadError> {
    let l = r.lowerBound
    let end = r.upperBound
    // RFC 9112 §5.2: obs-fold must be rejected (or replaced) by a proxy; a line starting with
    // whitespace right after the start line must be rejected too (§2.2).
    if ASCII.isOWS(p[l]) { return .failure(.obsoleteLineFolding) }
    var k = l
    while k < end && ASCII.isTokenChar(p[k]) { k += 1 }
    guard k < end else { return .failure(.invalidFieldName) }
    let c = p[k]
    if c != ASCII.colon {
        if ASCII.isOWS(c) { return .failure(.whitespaceBeforeColon) }
        if c == ASCII.cr { return .failure(.bareCR) }
        return .failure(.invalidFieldName)
    }
    if k == l { return .failure(.emptyFieldName) }
    if let v = firstInvalidByte(p, k + 1, end, threshold: 0x20, ASCII.isFieldValueChar) {
        return .failure(p[v] == ASCII.cr ? .bareCR : .invalidFieldValue)
    }
    return .success(HeaderField(name: l..<k, value: trimOWS(p, (k + 1)..<end)))
}

/// What the parser needs to know from the fields, gathered in one pass.
struct FieldFacts {
    var hostValue: Range<Int>? = nil
    var contentLength: UInt64? = nil
    var transferEncodingSeen = false
    var chunkedFinal = false
    var chunkedCount = 0
    var codingCount = 0
    /// Transfer-Encoding field lines (a request may carry only one, see ``requestFraming``).
    var transferEncodingLines = 0
    /// A Transfer-Encoding field line whose value is empty, or a list with an empty element.
    var emptyCodingSeen = false
    var connectionTokens: [[UInt8]] = []
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false
    var upgrade: Range<Int>? = nil
    var expectsContinue = false
}

private func analyseFields(_ p: UnsafeBufferPointer<UInt8>, _ fields: [HeaderField], kind: MessageKind) -> Result<FieldFacts, HTTPHeadError> {
    var facts = FieldFacts()
    var error: HTTPHeadError? = nil
    for field in fields {
        let name = field.name
        let value = field.value
        switch name.count {
        case 4 where kind == .request && equalsLowercase(p, name, "host"):
            // RFC 9112 §3.2: more than one Host, or an invalid one, is a 400.
            if facts.hostValue != nil { return .failure(.duplicateHost) }
            for k in value where !ASCII.isAuthorityChar(p[k]) { return .failure(.invalidHost) }
            facts.hostValue = value
        case 6 where kind == .request && equalsLowercase(p, name, "expect"):
            if equalsLowercase(p, value, "100-continue") { facts.expectsContinue = true }
        case 7 where equalsLowercase(p, name, "upgrade"):
            if facts.upgrade == nil { facts.upgrade = value }
        case 10 where equalsLowercase(p, name, "connection"):
            forEachListElement(p, value) { element in
                guard !element.isEmpty else { return true }
                var token = [UInt8]()
                token.reserveCapacity(element.count)
                for k in element { token.append(ASCII.lower(p[k])) }
                if equalsLowercase(p, element, "close") { facts.connectionClose = true }
                if equalsLowercase(p, element, "keep-alive") { facts.connectionKeepAlive = true }
                if equalsLowercase(p, element, "upgrade") { facts.connectionUpgrade = true }
                facts.connectionTokens.append(token)
                return true
            }
        case 14 where equalsLowercase(p, name, "content-length"):
            // RFC 9110 §8.6: `1*DIGIT`; a list of identical values may be collapsed, anything
            // else is unrecoverable framing.
            forEachListElement(p, value) { element in
                guard !element.isEmpty else {
                    error = .invalidContentLength
                    return false
                }
                var n: UInt64 = 0
                for k in element {
                    let c = p[k]
                    guard isDigit(c) else {
                        error = .invalidContentLength
                        return false
                    }
                    let (m, o1) = n.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
                    guard !o1 && !o2 else {
                        error = .invalidContentLength
                        return false
                    }
                    n = s
                }
                if let previous = facts.contentLength, previous != n {
                    error = .conflictingContentLength
                    return false
                }
                facts.contentLength = n
                return true
            }
            if let error { return .failure(error) }
        case 17 where equalsLowercase(p, name, "transfer-encoding"):
            facts.transferEncodingSeen = true
            facts.transferEncodingLines += 1
            if value.isEmpty { facts.emptyCodingSeen = true }
            forEachListElement(p, value) { element in
                guard !element.isEmpty else {
                    facts.emptyCodingSeen = true
                    return true
                }
                var nameEnd = element.lowerBound
                while nameEnd < element.upperBound && p[nameEnd] != ASCII.semicolon { nameEnd += 1 }
                let coding = trimOWS(p, element.lowerBound..<nameEnd)
                guard !coding.isEmpty else {
                    error = .invalidTransferEncoding
                    return false
                }
                for k in coding where !ASCII.isTokenChar(p[k]) {
                    error = .invalidTransferEncoding
                    return false
                }
                facts.codingCount += 1
                if equalsLowercase(p, coding, "chunked") {
                    // chunked has no parameters (RFC 9112 §7.1) and is applied at most once (§6.1).
                    guard nameEnd == element.upperBound else {
                        error = .invalidTransferEncoding
                        return false
                    }
                    facts.chunkedCount += 1
                    if facts.chunkedCount > 1 {
                        error = .chunkedAppliedTwice
                        return false
                    }
                    facts.chunkedFinal = true
                } else {
                    facts.chunkedFinal = false
                }
                return true
            }
            if let error { return .failure(error) }
        default:
            break
        }
    }
    if facts.transferEncodingSeen && facts.codingCount == 0 { return .failure(.invalidTransferEncoding) }
    return .success(facts)
}
