import Forwarding
import NIOCore

/// What the server asks of HTTP/1.1 client connections: the handler a listener's pipeline
/// starts with, and its leaving when an L4 route takes the connection over.
package enum HTTP1Clients {
    /// The handler of a connection accepted on listener `listenerIndex` of `worker`, with its
    /// place in its source's counts.
    package static func handler(worker: Worker, listenerIndex: Int, isTLS: Bool, sourceTicket: SourceTicket?) -> ChannelHandler {
        let handler = ClientHandler(worker: worker, listenerIndex: listenerIndex, isTLS: isTLS)
        handler.sourceTicket = sourceTicket
        return handler
    }

    /// An L4 route takes the connection over before any TLS: its HTTP/1.1 handler, if any,
    /// leaves the pipeline without counting a failed handshake.
    package static func handOver(_ pipeline: ChannelPipeline.SynchronousOperations) {
        guard let l7 = try? pipeline.context(handlerType: ClientHandler.self) else { return }
        (l7.handler as? ClientHandler)?.handOver()
        pipeline.removeHandler(context: l7, promise: nil)
    }
}
