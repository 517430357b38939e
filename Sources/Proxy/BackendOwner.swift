import HTTP1
import NIOCore

/// The client side a member connection reports to while it carries an exchange: an
/// HTTP/1.1 client connection (`ClientHandler`) or one HTTP/2 stream (`HTTP2StreamHandler`).
/// The member side parses and frames the response the same way for both; only the writing
/// to the client differs.
protocol BackendOwner: AnyObject {
    /// Whether the client can take more bytes now (the member is not read otherwise).
    var isClientWritable: Bool { get }
    /// Whether the response body is wanted without its chunked framing (HTTP/1.0, HTTP/2).
    var wantsDechunkedBody: Bool { get }
    func backendInformational(_ head: ResponseHead)
    func backendResponseHead(_ head: ResponseHead, framing: BodyFraming)
    func backendSwitchedProtocols(_ head: ResponseHead)
    func backendBody(_ slice: ByteBuffer)
    func flushToClient()
    func backendBecameWritable()
    func backendResponseComplete(_ backend: BackendHandler, reusable: Bool)
    func backendClosedTunnel()
    func backendFailed(_ backend: BackendHandler, _ error: Error)
}

/// A client connection as its worker sees it: counted while open, drained on reload or
/// shutdown, aborted at the drain deadline.
protocol ClientConnection: AnyObject {
    func drain(gentle: Bool)
    func abort()
}
