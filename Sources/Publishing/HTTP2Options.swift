/// HTTP/2 towards clients on the TLS listeners (`http2:`). Members are always spoken to in
/// HTTP/1.1; each client stream becomes one member exchange under the same rules.
///
/// The limits bound what one client connection can make edgesplit hold or do: streams open
/// at once (RFC 9113 §5.1.2 SETTINGS_MAX_CONCURRENT_STREAMS), the decoded size of one header
/// list (§6.5.2 SETTINGS_MAX_HEADER_LIST_SIZE), and how many RST_STREAM frames it may send
/// per second — the "rapid reset" attack (CVE-2023-44487) opens and cancels streams faster
/// than any server can start and abandon backend requests.
public struct HTTP2Options: Hashable, Sendable {
    /// Offer `h2` in ALPN; off means TLS listeners speak HTTP/1.1 only.
    public var enabled: Bool
    public var maxConcurrentStreams: Int
    /// Bytes, counted as RFC 9113 §6.5.2 does (name + value + 32 per field).
    public var maxHeaderListSize: Int
    /// RST_STREAM frames a client may send within one second before the connection gets
    /// GOAWAY (ENHANCE_YOUR_CALM) and is closed.
    public var maxResetsPerSecond: Int

    public init(enabled: Bool = true, maxConcurrentStreams: Int = 100, maxHeaderListSize: Int = 64 * 1024, maxResetsPerSecond: Int = 100) {
        self.enabled = enabled
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxHeaderListSize = maxHeaderListSize
        self.maxResetsPerSecond = maxResetsPerSecond
    }
}
