/// Why a message head was rejected.
///
/// The parser is deliberately strict: whenever two implementations could disagree on where a
/// message starts or ends (request smuggling, RFC 9112 §11.2), the head is an error rather than
/// a guess. ``status`` is what a server answers a bad *request* with; for a bad *response* the
/// proxy answers its client with 502 and ignores ``status``.
public enum HTTPHeadError: Error, Sendable, Hashable, CustomStringConvertible {
    // Limits
    /// The request line (or status line) exceeds ``HeadLimits/maxRequestLine`` (414, RFC 9110 §15.5.15).
    case requestLineTooLong
    /// The field section exceeds ``HeadLimits/maxHeaderBytes`` (431, RFC 6585 §5).
    case headersTooLarge
    /// More field lines than ``HeadLimits/maxHeaderCount`` (431).
    case tooManyHeaders
    /// More empty lines before the request line than RFC 9112 §2.2 tolerance warrants.
    case tooManyLeadingEmptyLines

    // Line syntax (RFC 9112 §2.2)
    /// A CR not followed by LF.
    case bareCR
    /// An LF not preceded by CR.
    case bareLF

    // Start line
    /// The request line is not `method SP request-target SP HTTP-version` (RFC 9112 §3).
    case invalidRequestLine
    /// The method is empty or not a token (RFC 9110 §9.1).
    case invalidMethod
    /// The target contains SP or a control byte, or its form is not recognised (RFC 9112 §3.2).
    case invalidTarget
    /// A `#` in the target: the fragment is never part of a request target (RFC 9112 §3.2).
    case fragmentInTarget
    /// `*` with a method other than OPTIONS (RFC 9112 §3.2.4).
    case asteriskFormWithoutOptions
    /// CONNECT or an authority-form target: this proxy does not tunnel (405).
    case connectNotSupported
    /// The version text is not `HTTP/DIGIT.DIGIT` (RFC 9112 §2.3).
    case malformedVersion
    /// A well-formed version other than HTTP/1.0 or HTTP/1.1 (505, RFC 9110 §15.6.6).
    case versionNotSupported
    /// The status line is not `HTTP-version SP 3DIGIT SP reason` (RFC 9112 §4).
    case invalidStatusLine

    // Field lines (RFC 9112 §5, RFC 9110 §5)
    /// A field line starting with SP or HTAB: obsolete line folding (RFC 9112 §5.2).
    case obsoleteLineFolding
    /// Whitespace between the field name and the colon (RFC 9112 §5.1).
    case whitespaceBeforeColon
    /// A field line without a name before the colon.
    case emptyFieldName
    /// A field name that is not a token, or a field line without a colon.
    case invalidFieldName
    /// NUL, DEL or a control byte other than HTAB in a field value (RFC 9110 §5.5).
    case invalidFieldValue

    // Host (RFC 9112 §3.2)
    /// An HTTP/1.1 request without Host.
    case missingHost
    /// More than one Host field line.
    case duplicateHost
    /// A Host value that is not `uri-host [ ":" port ]`.
    case invalidHost

    // Framing (RFC 9112 §6)
    /// Both Content-Length and Transfer-Encoding on a request (RFC 9112 §6.3 rule 3).
    case contentLengthWithTransferEncoding
    /// Content-Length values that differ (RFC 9110 §8.6).
    case conflictingContentLength
    /// A Content-Length that is empty, not all digits, or too large.
    case invalidContentLength
    /// A Transfer-Encoding list that is empty or not a list of transfer codings.
    case invalidTransferEncoding
    /// A request Transfer-Encoding whose final coding is not chunked (RFC 9112 §6.3 rule 4).
    case transferEncodingNotChunked
    /// chunked applied more than once (RFC 9112 §6.1).
    case chunkedAppliedTwice
    /// Transfer-Encoding on an HTTP/1.0 request (RFC 9112 §6.1, faulty framing).
    case transferEncodingInHTTP10
    /// More than one Transfer-Encoding field line on a request: members disagree on whether the
    /// first, the last or the joined lines count, so the framing is ambiguous.
    case repeatedTransferEncoding
    /// A request Transfer-Encoding that lists a coding before `chunked` (`gzip, chunked`): the
    /// proxy forwards only canonical `chunked` framing.
    case transferCodingBeforeChunked
    /// A request whose only transfer coding is one other than chunked (`gzip`): 501, the
    /// coding is not implemented (RFC 9112 §6.1), rather than ambiguous.
    case transferCodingNotImplemented

    /// The status code a server should answer a request rejected with this error.
    public var status: Int {
        switch self {
        case .requestLineTooLong: return 414
        case .headersTooLarge, .tooManyHeaders: return 431
        case .versionNotSupported: return 505
        case .connectNotSupported: return 405
        case .transferCodingNotImplemented: return 501
        default: return 400
        }
    }

    /// A short text for logs.
    public var reason: String {
        switch self {
        case .requestLineTooLong: return "request line too long"
        case .headersTooLarge: return "header section too large"
        case .tooManyHeaders: return "too many header fields"
        case .tooManyLeadingEmptyLines: return "too many empty lines before the request line"
        case .bareCR: return "bare CR in message head"
        case .bareLF: return "bare LF in message head"
        case .invalidRequestLine: return "malformed request line"
        case .invalidMethod: return "invalid method"
        case .invalidTarget: return "invalid request target"
        case .fragmentInTarget: return "'#' in the request target"
        case .asteriskFormWithoutOptions: return "asterisk-form target without OPTIONS"
        case .connectNotSupported: return "CONNECT / authority-form not supported"
        case .malformedVersion: return "malformed HTTP version"
        case .versionNotSupported: return "HTTP version not supported"
        case .invalidStatusLine: return "malformed status line"
        case .obsoleteLineFolding: return "obsolete line folding"
        case .whitespaceBeforeColon: return "whitespace between field name and colon"
        case .emptyFieldName: return "empty field name"
        case .invalidFieldName: return "invalid field name"
        case .invalidFieldValue: return "control character in field value"
        case .missingHost: return "missing Host"
        case .duplicateHost: return "more than one Host"
        case .invalidHost: return "invalid Host"
        case .contentLengthWithTransferEncoding: return "both Content-Length and Transfer-Encoding"
        case .conflictingContentLength: return "conflicting Content-Length values"
        case .invalidContentLength: return "invalid Content-Length"
        case .invalidTransferEncoding: return "invalid Transfer-Encoding"
        case .transferEncodingNotChunked: return "final transfer coding is not chunked"
        case .chunkedAppliedTwice: return "chunked applied more than once"
        case .transferEncodingInHTTP10: return "Transfer-Encoding in an HTTP/1.0 request"
        case .repeatedTransferEncoding: return "more than one Transfer-Encoding field line"
        case .transferCodingBeforeChunked: return "transfer coding other than chunked"
        case .transferCodingNotImplemented: return "transfer coding not implemented"
        }
    }

    public var description: String { "\(status) \(reason)" }
}

/// Why a message body could not be framed. The connection cannot be resynchronised after
/// one of these: the proxy answers 400 (request) or 502 (response) and closes.
public enum HTTPBodyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The chunk-size is empty or not hexadecimal (a sign or `0x` prefix included), RFC 9112 §7.1.
    case invalidChunkSize
    /// The chunk-size exceeds ``BodyFramer/maxChunkSize``.
    case chunkSizeOverflow
    /// The chunk extension does not follow RFC 9112 §7.1.1.
    case invalidChunkExtension
    /// A chunk-size line longer than ``BodyFramer/maxChunkLineBytes``.
    case chunkLineTooLong
    /// CR without LF (or LF without CR) in a chunk-size line or trailer section.
    case invalidLineEnding
    /// Chunk data not followed by exactly CRLF.
    case missingChunkDataCRLF
    /// A trailer field line that breaks the field syntax of RFC 9112 §5.
    case invalidTrailerField
    /// A trailer section larger than ``BodyFramer/maxTrailerBytes``.
    case trailersTooLarge
    /// More chunk-extension bytes in one body than ``BodyFramer/maxChunkExtensionBytes``.
    case chunkExtensionsTooLarge

    public var reason: String {
        switch self {
        case .invalidChunkSize: return "invalid chunk size"
        case .chunkSizeOverflow: return "chunk size too large"
        case .invalidChunkExtension: return "invalid chunk extension"
        case .chunkLineTooLong: return "chunk size line too long"
        case .invalidLineEnding: return "invalid line ending in chunked body"
        case .missingChunkDataCRLF: return "chunk data not followed by CRLF"
        case .invalidTrailerField: return "invalid trailer field"
        case .trailersTooLarge: return "trailer section too large"
        case .chunkExtensionsTooLarge: return "chunk extensions too large"
        }
    }

    public var description: String { reason }
}
