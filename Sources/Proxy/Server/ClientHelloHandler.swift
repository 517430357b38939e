import ClientHello
import EdgeTLS
import Forwarding
import NIOCore
import NIOSSL
import Publishing

/// The first handler of a TLS listener's connection: reads the client's ClientHello without
/// answering it, and decides from its SNI whether the connection is an L4 route (its bytes
/// pass through unchanged to a member that terminates TLS itself) or L7 (edgesplit
/// terminates TLS with the certificate for that name).
///
/// It reads at most `maxBytes` for at most `timeout`: a peer cannot make a worker buffer more
/// or hold a connection undecided longer. A malformed hello closes the connection and is
/// counted. For L7 it inserts `NIOSSLServerHandler` after itself and re-fires every byte
/// read so far, so the TLS handshake is the client's one and only handshake; for L4 it hands
/// the channel and those bytes to `L4Connection`.
final class ClientHelloHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The most a ClientHello may occupy, record headers included (the parser bounds the
    /// hello itself to the same size).
    static let maxBytes = 16 * 1024
    /// How long a client may take to send its whole ClientHello.
    static let timeout = TimeAmount.seconds(5)

    private let worker: Worker
    private let listenerIndex: Int
    private let certificates: ListenerCertificates
    private var parser = ClientHelloParser(limits: ClientHelloLimits(maxBytes: ClientHelloHandler.maxBytes))
    private var received: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var decided = false

    init(worker: Worker, listenerIndex: Int, certificates: ListenerCertificates) {
        self.worker = worker
        self.listenerIndex = listenerIndex
        self.certificates = certificates
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.timeout) { [weak self] in
            guard let self, !self.decided else { return }
            self.decided = true
            self.worker.stats.clientHelloTimeouts &+= 1
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard !decided else {
            // Bytes that were already on their way when the decision was made.
            context.fireChannelRead(data)
            return
        }
        if received == nil {
            received = incoming
        } else {
            received!.writeBuffer(&incoming)
        }
        let result = received!.withUnsafeReadableBytes { parser.parse($0) }
        switch result {
        case .needMore:
            if received!.readableBytes >= Self.maxBytes { reject(context: context, reason: ClientHelloError.tooLarge.reason) }
        case .invalid(let error):
            reject(context: context, reason: error.reason)
        case .complete(let hello):
            decide(context: context, serverName: hello.serverName)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        decided = true
        context.fireChannelInactive()
    }

    private func reject(context: ChannelHandlerContext, reason: String) {
        decided = true
        worker.stats.clientHelloMalformed &+= 1
        received = nil
        context.close(promise: nil)
    }

    private func decide(context: ChannelHandlerContext, serverName: String?) {
        decided = true
        timer?.cancel()
        let bytes = received!
        received = nil
        let listener = worker.runtime.config.listeners[listenerIndex]
        if let route = listener.l4Route(forServerName: serverName) {
            L4Connection.start(
                worker: worker, channel: context.channel, listenerIndex: listenerIndex,
                route: route, received: bytes)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        let tls = NIOSSLServerHandler(context: certificates.context(forServerName: serverName))
        do {
            try context.pipeline.syncOperations.addHandler(tls, position: .after(self))
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
