#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import NIOPosix

/// The control socket of a running instance: `/run/edgesplit/<instance>.sock`, mode 0600,
/// one JSON object per line each way. The CLI's `farm` commands use it; only root (or the
/// instance's user) can connect.
///
/// Requests: `{"command": "farm-status"}`, `{"command": "farm-drain", "farm": F, "member": M}`,
/// `{"command": "farm-undrain", …}`, `{"command": "ping"}`. Responses: `{"ok": true, …}` or
/// `{"ok": false, "error": "…"}`.
final class ControlSocket {
    static let defaultDirectory = "/run/edgesplit"

    let path: String
    private var channel: Channel?

    init(directory: String, instance: String) {
        self.path = "\(directory)/\(instance).sock"
    }

    /// Binds the socket, replacing a stale file left by a process that is gone.
    func start(on loop: EventLoop, handle: @escaping ([String: Any]) -> EventLoopFuture<[String: Any]>) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: geteuid() == 0 ? 0o755 : 0o700]
        )
        unlink(path)
        let previous = umask(0o177)
        defer { umask(previous) }
        channel = try ServerBootstrap(group: loop)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ControlRequestHandler(handle: handle))
                }
            }
            .bind(unixDomainSocketPath: path)
            .wait()
        chmod(path, 0o600)
    }

    func stop() {
        try? channel?.close().wait()
        channel = nil
        unlink(path)
    }
}

/// Splits a byte stream into lines (at most 64 KiB each).
struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if let newline = buffer.readableBytesView.firstIndex(of: 0x0A) {
            let line = buffer.readSlice(length: newline - buffer.readerIndex)!
            buffer.moveReaderIndex(forwardBy: 1)
            context.fireChannelRead(wrapInboundOut(line))
            return .continue
        }
        if buffer.readableBytes > 64 * 1024 { throw ControlError.lineTooLong }
        return .needMoreData
    }
}

enum ControlError: Error {
    case lineTooLong
}

final class ControlRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handle: ([String: Any]) -> EventLoopFuture<[String: Any]>

    init(handle: @escaping ([String: Any]) -> EventLoopFuture<[String: Any]>) {
        self.handle = handle
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        let channel = context.channel
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.readableBytesView)),
            let request = object as? [String: Any]
        else {
            Self.reply(["ok": false, "error": "expected one JSON object per line"], on: channel)
            return
        }
        handle(request).whenComplete { result in
            switch result {
            case .success(let response): Self.reply(response, on: channel)
            case .failure(let error): Self.reply(["ok": false, "error": "\(error)"], on: channel)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    static func reply(_ response: [String: Any], on channel: Channel) {
        guard var data = try? JSONSerialization.data(withJSONObject: response, options: [.sortedKeys]) else { return }
        data.append(0x0A)
        var buffer = channel.allocator.buffer(capacity: data.count)
        buffer.writeBytes(data)
        channel.writeAndFlush(buffer, promise: nil)
    }
}
