/// What one ``BodyFramer/consume(_:)`` call found.
public struct BodyProgress: Sendable, Hashable {
    /// Bytes of this input that belong to the message body: entity data and, for chunked,
    /// chunk-size lines, CRLFs and trailers. Forward exactly these bytes; the rest of the input
    /// is the next message.
    public var consumed: Int
    /// The body ended within the consumed bytes.
    public var isComplete: Bool
    /// Ranges of the input (within `0..<consumed`) holding entity data, for a caller that has to
    /// de-chunk (for example towards an HTTP/1.0 client).
    public var payload: [Range<Int>]

    public init(consumed: Int, isComplete: Bool, payload: [Range<Int>]) {
        self.consumed = consumed
        self.isComplete = isComplete
        self.payload = payload
    }
}

/// Tracks where a message body ends while the proxy forwards it verbatim.
///
/// Content-Length counts down; chunked is a byte-at-a-time state machine over the framing bytes
/// (chunk-size lines, CRLFs, trailers) that skips over chunk data in bulk. The chunked grammar is
/// enforced strictly (RFC 9112 §7.1): hex size without sign or prefix, extensions that follow
/// §7.1.1, exact CRLFs, trailer fields with the field syntax of §5. A lenient chunked parser in
/// front of a strict one (or the reverse) is a request-smuggling vector.
///
/// Any split of the input works. Errors are sticky.
public struct BodyFramer: Sendable {
    /// Largest chunk size accepted (2^62): well beyond any real chunk, far from overflow.
    public static let maxChunkSize: UInt64 = 1 << 62
    /// Longest chunk-size line, extensions included, without CRLF.
    public static let maxChunkLineBytes = 4096
    /// Largest trailer section, final CRLF included.
    public static let maxTrailerBytes = 16 * 1024
    /// Most chunk-extension bytes in one body, all chunks together (from the `;` or the
    /// whitespace after a chunk-size to the CR). Without a bound a client could send a 1-byte
    /// chunk behind every 4 KiB of extensions and stream 4096 times a rule's `max_body` through
    /// the proxy (which counts extensions against `max_body` too, see `extensionBytes`). Nothing real sends more than a few
    /// bytes of extensions (Lync, IIS and browsers send none); the body fails like any other
    /// framing error (400 for a request, 502 for a response).
    public static let maxChunkExtensionBytes = 64 * 1024

    public let framing: BodyFraming

    private enum Mode: Sendable {
        case complete
        case length
        case untilClose
        case chunked
    }

    private enum ChunkState: UInt8, Sendable {
        case size, sizeWhitespace, extNameStart, extName, extNameWhitespace, extValueStart
        case extToken, extQuoted, extQuotedPair, extValueEnd, extValueWhitespace, sizeLF
        case data, dataCR, dataLF
        case trailerLineStart, trailerName, trailerValue, trailerLF, endLF
    }

    private var mode: Mode
    private var remaining: UInt64 = 0
    private var state: ChunkState = .size
    private var chunkSize: UInt64 = 0
    private var sawDigit = false
    private var lineBytes = 0
    private var trailerBytes = 0
    /// Chunk-extension bytes seen so far in this body: client-chosen bytes that carry no
    /// payload, so the data plane counts them against `max_body` with the payload.
    public private(set) var extensionBytes = 0
    private var error: HTTPBodyError? = nil

    public init(_ framing: BodyFraming) {
        self.framing = framing
        switch framing {
        case .none:
            mode = .complete
        case .contentLength(let n):
            mode = n == 0 ? .complete : .length
            remaining = n
        case .chunked:
            mode = .chunked
        case .untilClose:
            mode = .untilClose
        }
    }

    /// Whether the whole body has been seen.
    public var isComplete: Bool {
        if case .complete = mode { return true }
        return false
    }

    /// For Content-Length framing, the bytes still expected; otherwise nil.
    public var remainingContentLength: UInt64? {
        if case .contentLength = framing { return remaining }
        return nil
    }

    public mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(HTTPBodyError) -> BodyProgress {
        if let error { throw error }
        switch mode {
        case .complete:
            return BodyProgress(consumed: 0, isComplete: true, payload: [])
        case .untilClose:
            return BodyProgress(consumed: bytes.count, isComplete: false, payload: bytes.isEmpty ? [] : [0..<bytes.count])
        case .length:
            let take = Int(Swift.min(UInt64(bytes.count), remaining))
            remaining -= UInt64(take)
            if remaining == 0 { mode = .complete }
            return BodyProgress(consumed: take, isComplete: remaining == 0, payload: take == 0 ? [] : [0..<take])
        case .chunked:
            do {
                return try consumeChunked(bytes)
            } catch let e {
                error = e
                throw e
            }
        }
    }

    private mutating func consumeChunked(_ bytes: UnsafeRawBufferPointer) throws(HTTPBodyError) -> BodyProgress {
        let n = bytes.count
        var payload: [Range<Int>] = []
        var i = 0
        while i < n {
            if state == .data {
                let take = Int(Swift.min(UInt64(n - i), remaining))
                payload.append(i..<(i + take))
                i += take
                remaining -= UInt64(take)
                if remaining == 0 { state = .dataCR }
                continue
            }
            let c = bytes[i]
            i += 1
            switch state {
            case .size, .sizeWhitespace, .extNameStart, .extName, .extNameWhitespace, .extValueStart,
                 .extToken, .extQuoted, .extQuotedPair, .extValueEnd, .extValueWhitespace:
                lineBytes += 1
                if lineBytes > Self.maxChunkLineBytes && c != ASCII.cr { throw .chunkLineTooLong }
                try sizeLineByte(c)
                // Every size-line byte that leaves (or finds) the line past its hex digits and
                // before its CR is extension (or the whitespace before one).
                if state != .size && state != .sizeLF {
                    extensionBytes += 1
                    if extensionBytes > Self.maxChunkExtensionBytes { throw .chunkExtensionsTooLarge }
                }
            case .sizeLF:
                guard c == ASCII.lf else { throw .invalidLineEnding }
                if chunkSize == 0 {
                    state = .trailerLineStart
                } else {
                    remaining = chunkSize
                    state = .data
                }
            case .data:
                break  // handled above
            case .dataCR:
                guard c == ASCII.cr else { throw .missingChunkDataCRLF }
                state = .dataLF
            case .dataLF:
                guard c == ASCII.lf else { throw .missingChunkDataCRLF }
                state = .size
                chunkSize = 0
                sawDigit = false
                lineBytes = 0
            case .trailerLineStart, .trailerName, .trailerValue, .trailerLF, .endLF:
                trailerBytes += 1
                if trailerBytes > Self.maxTrailerBytes { throw .trailersTooLarge }
                if try trailerByte(c) {
                    mode = .complete
                    return BodyProgress(consumed: i, isComplete: true, payload: payload)
                }
            }
        }
        return BodyProgress(consumed: n, isComplete: false, payload: payload)
    }

    /// `chunk-size [ chunk-ext ] CRLF` with
    /// `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`.
    private mutating func sizeLineByte(_ c: UInt8) throws(HTTPBodyError) {
        let ows = ASCII.isOWS(c)
        switch state {
        case .size:
            if let d = hexValue(c) {
                guard chunkSize <= (Self.maxChunkSize - d) / 16 else { throw .chunkSizeOverflow }
                chunkSize = chunkSize * 16 + d
                sawDigit = true
            } else if !sawDigit {
                throw .invalidChunkSize
            } else if c == ASCII.cr {
                state = .sizeLF
            } else if c == ASCII.semicolon {
                state = .extNameStart
            } else if ows {
                state = .sizeWhitespace
            } else {
                throw .invalidChunkSize
            }
        case .sizeWhitespace:
            if c == ASCII.semicolon { state = .extNameStart } else if !ows { throw .invalidChunkExtension }
        case .extNameStart:
            if ASCII.isTokenChar(c) { state = .extName } else if !ows { throw .invalidChunkExtension }
        case .extName:
            if ASCII.isTokenChar(c) { break }
            switch c {
            case ASCII.cr: state = .sizeLF
            case ASCII.semicolon: state = .extNameStart
            case 0x3D: state = .extValueStart
            case _ where ows: state = .extNameWhitespace
            default: throw .invalidChunkExtension
            }
        case .extNameWhitespace:
            switch c {
            case ASCII.semicolon: state = .extNameStart
            case 0x3D: state = .extValueStart
            case _ where ows: break
            default: throw .invalidChunkExtension
            }
        case .extValueStart:
            if c == 0x22 {
                state = .extQuoted
            } else if ASCII.isTokenChar(c) {
                state = .extToken
            } else if !ows {
                throw .invalidChunkExtension
            }
        case .extToken:
            if ASCII.isTokenChar(c) { break }
            switch c {
            case ASCII.cr: state = .sizeLF
            case ASCII.semicolon: state = .extNameStart
            case _ where ows: state = .extValueWhitespace
            default: throw .invalidChunkExtension
            }
        case .extQuoted:
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 §5.6.4)
            if c == 0x22 {
                state = .extValueEnd
            } else if c == 0x5C {
                state = .extQuotedPair
            } else if !ASCII.isFieldValueChar(c) {
                throw c == ASCII.cr ? .invalidLineEnding : .invalidChunkExtension
            }
        case .extQuotedPair:
            guard ASCII.isFieldValueChar(c) else { throw .invalidChunkExtension }
            state = .extQuoted
        case .extValueEnd:
            switch c {
            case ASCII.cr: state = .sizeLF
            case ASCII.semicolon: state = .extNameStart
            case _ where ows: state = .extValueWhitespace
            default: throw .invalidChunkExtension
            }
        case .extValueWhitespace:
            if c == ASCII.semicolon { state = .extNameStart } else if !ows { throw .invalidChunkExtension }
        default:
            throw .invalidChunkSize
        }
    }

    /// Trailer section (RFC 9112 §7.1.2): field lines, then CRLF. Returns true at the end.
    private mutating func trailerByte(_ c: UInt8) throws(HTTPBodyError) -> Bool {
        switch state {
        case .trailerLineStart:
            if c == ASCII.cr {
                state = .endLF
            } else if ASCII.isTokenChar(c) {
                state = .trailerName
            } else {
                // Includes obs-fold (SP/HTAB), an empty name (":") and bare LF.
                throw c == ASCII.lf ? .invalidLineEnding : .invalidTrailerField
            }
        case .trailerName:
            if c == ASCII.colon {
                state = .trailerValue
            } else if !ASCII.isTokenChar(c) {
                throw .invalidTrailerField
            }
        case .trailerValue:
            if c == ASCII.cr {
                state = .trailerLF
            } else if !ASCII.isFieldValueChar(c) {
                throw c == ASCII.lf ? .invalidLineEnding : .invalidTrailerField
            }
        case .trailerLF:
            guard c == ASCII.lf else { throw .invalidLineEnding }
            state = .trailerLineStart
        case .endLF:
            guard c == ASCII.lf else { throw .invalidLineEnding }
            return true
        default:
            throw .invalidTrailerField
        }
        return false
    }
}

@inline(__always)
private func hexValue(_ c: UInt8) -> UInt64? {
    switch c {
    case 0x30...0x39: return UInt64(c - 0x30)
    case 0x41...0x46: return UInt64(c - 0x41 + 10)
    case 0x61...0x66: return UInt64(c - 0x61 + 10)
    default: return nil
    }
}
