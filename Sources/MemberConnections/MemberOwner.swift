import HTTP1
import NIOCore

/// The client side a member connection reports to while it carries an exchange: an
/// HTTP/1.1 client connection or one HTTP/2 stream. Each call is an event for the owner's
/// state machine. The member side parses and frames the response the same way for both; only
/// the writing to the client differs.
///
/// A member event may arrive while the member's handler is inside its `channelRead`: the owner
/// writes to its client and changes state then, but it takes the client's next request only
/// from its own loop, never from inside this call.
package protocol MemberOwner: AnyObject {
    /// Whether the client can take more bytes now (the member is not read otherwise).
    var isClientWritable: Bool { get }
    /// Whether the response body is wanted without its chunked framing (HTTP/1.0, HTTP/2).
    var wantsDechunkedBody: Bool { get }
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
