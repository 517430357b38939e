import Affinity
import Forwarding
import NIOCore

/// What a worker asks of HTTP/2: taking over a client connection whose TLS handshake chose
/// `h2` by ALPN (the worker's `startHTTP2`, set by the generation that builds it).
package enum HTTP2Clients {
    package static func start(
        worker: Worker, channel: Channel, listenerIndex: Int, client: ClientAddress?, clientText: String,
        sourceTicket: SourceTicket?
    ) throws -> ClientConnection {
        let connection = HTTP2Connection(
            worker: worker, listenerIndex: listenerIndex, client: client, clientText: clientText, sourceTicket: sourceTicket
        )
        try connection.install(in: channel)
        return connection
    }
}

extension HTTP2Stream: ExchangeOwner {}
