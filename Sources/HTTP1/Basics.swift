/// Size limits applied while a message head is read.
///
/// RFC 9112 §3 and §5 leave the lengths of the request line and of the field section to the
/// recipient; a proxy must bound both, or one slow client could make it buffer without end.
/// RFC 9110 §15.5.15 (414) and RFC 6585 §5 (431) name the statuses to answer with.
public struct HeadLimits: Sendable, Hashable {
    /// Longest request line (or status line) accepted, in bytes, without its CRLF.
    /// A longer line fails with ``HTTPHeadError/requestLineTooLong`` (414).
    public var maxRequestLine: Int
    /// Largest field section accepted: the bytes of all field lines including their CRLFs,
    /// without the start line and without the empty line that ends the head.
    /// More fails with ``HTTPHeadError/headersTooLarge`` (431).
    public var maxHeaderBytes: Int
    /// Most field lines accepted; one more fails with ``HTTPHeadError/tooManyHeaders`` (431).
    public var maxHeaderCount: Int

    public init(maxRequestLine: Int = 16 * 1024, maxHeaderBytes: Int = 64 * 1024, maxHeaderCount: Int = 256) {
        self.maxRequestLine = maxRequestLine
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
    }
}

/// Which start line a ``HeadParser`` expects: a request line on the client side of the proxy,
/// a status line on the upstream side (RFC 9112 §2.1).
public enum MessageKind: Sendable, Hashable {
    case request
    case response
}

/// The protocol version of a message (RFC 9112 §2.3). Only 1.0 and 1.1 are ever produced by the
/// parser; anything else is rejected with 505.
public struct HTTPVersion: Sendable, Hashable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    public var description: String { "HTTP/\(major).\(minor)" }
}

/// How the body of a message is delimited (RFC 9112 §6.3). The proxy forwards body bytes
/// verbatim, so it only needs to know where the message ends, which ``BodyFramer`` tracks.
public enum BodyFraming: Sendable, Hashable {
    /// No body at all (a request without Content-Length and Transfer-Encoding, RFC 9112 §6.3
    /// rule 7; responses to HEAD, 1xx, 204 and 304, rule 1).
    case none
    /// Exactly this many bytes follow the head (rule 6).
    case contentLength(UInt64)
    /// The chunked transfer coding is the final coding (rule 4, RFC 9112 §7.1).
    case chunked
    /// Responses only: the body runs until the server closes the connection (rule 8).
    case untilClose
}

/// Where a request target's form is from (RFC 9112 §3.2). Authority-form (CONNECT) is rejected.
public enum RequestTargetForm: Sendable, Hashable {
    /// `/path?query` (RFC 9112 §3.2.1).
    case origin
    /// `scheme://authority/path?query` (RFC 9112 §3.2.2).
    case absolute
    /// `*`, only with OPTIONS (RFC 9112 §3.2.4).
    case asterisk
}
