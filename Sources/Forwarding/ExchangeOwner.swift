import MemberConnections

/// The owner of exchanges on a worker: an HTTP/1.1 client connection (`ClientHandler`) or one
/// HTTP/2 stream (`HTTP2Stream`). Besides a member connection's events (`MemberOwner`)
/// it hears how opening a fresh connection for one of its exchanges ended.
package protocol ExchangeOwner: MemberOwner {
    /// A fresh member connection opened for `exchange` (`Worker.connect(_:for:)`).
    func memberConnected(_ memberConnection: MemberHandler, for exchange: Exchange)
    /// Opening a member connection for `exchange` failed; nothing was sent.
    func memberConnectFailed(_ error: Error, for exchange: Exchange)
}
