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
    /// The socket file's inode: a successor process replaces the file with its own, which
    /// this one must not remove when it exits.
    private var inode: ino_t = 0

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
        // Bound here rather than by NIO: NIO removes a Unix socket's file when it closes the
        // channel, which would delete a successor process's socket (see `stop()`).
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlSocketError(path: path, errno: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw ControlSocketError(path: path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let previous = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previous)
        guard bound == 0, listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw ControlSocketError(path: path, errno: code)
        }
        channel = try ServerBootstrap(group: loop)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ControlRequestHandler(handle: handle))
                }
            }
            .withBoundSocket(fd)
            .wait()
        chmod(path, 0o600)
        var info = stat()
        if stat(path, &info) == 0 { inode = info.st_ino }
    }

    /// Closes the socket and removes its file — unless a newer process has put its own
    /// there (a different file, or one somebody still answers on now that ours is closed).
    func stop() {
        try? channel?.close().wait()
        channel = nil
        var info = stat()
        guard stat(path, &info) == 0, info.st_ino == inode else { return }
        if (try? ControlConnection(path: path)) != nil { return }
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

struct ControlSocketError: Error, CustomStringConvertible {
    let path: String
    let errno: CInt
    var description: String { "cannot listen on \(path): \(String(cString: strerror(errno)))" }
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
