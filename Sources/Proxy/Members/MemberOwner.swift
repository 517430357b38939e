import HTTP1
import NIOCore

/// The client side a member connection reports to while it carries an exchange: an
/// HTTP/1.1 client connection (`ClientHandler`) or one HTTP/2 stream (`HTTP2Stream`).
/// Each call is an event for the owner's state machine. The member side parses and frames
/// the response the same way for both; only the writing to the client differs.
///
/// A member event may arrive while the member's handler is inside its `channelRead`: the owner
/// writes to its client and changes state then, but it takes the client's next request only
/// from its own loop, never from inside this call.
protocol MemberOwner: AnyObject {
    /// Whether the client can take more bytes now (the member is not read otherwise).
    var isClientWritable: Bool { get }
    /// Whether the response body is wanted without its chunked framing (HTTP/1.0, HTTP/2).
    var wantsDechunkedBody: Bool { get }
    /// A fresh member connection opened for `exchange` (`Worker.connect(_:for:)`).
    func memberConnected(_ memberConnection: MemberHandler, for exchange: Exchange)
    /// Opening a member connection for `exchange` failed; nothing was sent.
    func memberConnectFailed(_ error: Error, for exchange: Exchange)
    func memberInformational(_ head: ResponseHead)
    func memberResponseHead(_ head: ResponseHead, framing: BodyFraming)
    func memberSwitchedProtocols(_ head: ResponseHead)
    func memberBody(_ slice: ByteBuffer)
    func flushToClient()
    func memberBecameWritable()
    /// The response is complete and every byte the member sent with it is accounted for:
    /// `reusable` is false when anything followed it.
    func memberResponseComplete(_ memberConnection: MemberHandler, reusable: Bool)
    func memberClosedTunnel()
    func memberFailed(_ memberConnection: MemberHandler, _ error: Error)
}

/// A client connection as its worker sees it: counted while open, drained on reload or
/// shutdown, aborted at the drain deadline.
protocol ClientConnection: AnyObject {
    func drain(gentle: Bool)
    func abort()
}
