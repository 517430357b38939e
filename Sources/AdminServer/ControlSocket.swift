#if canImport(Glibc)
import Glibc
#endif
import Admin
import Foundation
import NIOCore
import NIOPosix

/// The control socket of a running instance: `/run/edgesplit/<instance>.sock`, mode 0600,
/// one JSON object per line each way. The CLI's `farm` commands use it; only root (or the
/// instance's user) can connect.
///
/// Requests, one of seven commands: `{"command": "ping"}` (instance and process, also how a
/// successor finds its predecessor), `{"command": "stats"}` (everything `edgesplit stats`
/// shows), `{"command": "farm-status"}`, `{"command": "farm-drain", "farm": F, "member": M}`,
/// `{"command": "farm-undrain", …}`, `{"command": "reload"}` (re-read the configuration file)
/// and `{"command": "retire"}` (a newer process took over: drain the connections and exit). Responses:
/// `{"ok": true, …}` or `{"ok": false, "error": "…"}`. Both sides are the Codable models
/// `ControlRequest` and `ControlReply` (Admin); a line is decoded once, in
/// `ControlRequestHandler`, and one that is not a request is answered with why.
package final class ControlSocket {
    package let path: String
    private var channel: Channel?
    /// The socket file's inode: a successor process replaces the file with its own, which
    /// this one must not remove when it exits.
    private var inode: ino_t = 0

    package init(directory: String, instance: String) {
        self.path = "\(directory)/\(instance).sock"
    }

    /// Binds the socket, replacing a stale file left by a process that is gone.
    package func start(on loop: EventLoop, handle: @escaping @Sendable (ControlRequest) -> EventLoopFuture<ControlReply>) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try Self.prepareDirectory(directory)
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
        // The umask above made it 0600; lstat, not stat: the name is checked, never followed.
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK, info.st_mode & 0o077 == 0 else {
            try? channel?.close().wait()
            channel = nil
            throw ControlSocketError(path: path, reason: "the socket file is not a socket of mode 0600 right after bind; expected nobody else to write to its directory")
        }
        inode = info.st_ino
    }

    /// Makes sure the socket's directory is one no other local user controls, creating it if
    /// needed (0755 for root, so the `farm` commands of other admins can look in; else 0700).
    ///
    /// Whoever can write to the directory can replace the socket with their own and answer
    /// `reload` or `farm drain`, or read what the CLI sends; whoever owns it can change its
    /// mode. So the directory must be a real directory (not a symbolic link), owned by this
    /// process's user, writable by nobody else; its parent must not let another user rename it
    /// away (owned by root or this user, or sticky like /tmp). A directory that breaks a rule is
    /// refused, never repaired: changing the mode of something another user prepared would
    /// only hide that they did. The checks use `lstat` and `open(O_NOFOLLOW)` + `fstat`, so no
    /// symbolic link is ever followed.
    static func prepareDirectory(_ directory: String) throws {
        let uid = geteuid()
        if mkdir(directory, uid == 0 ? 0o755 : 0o700) != 0 && errno != EEXIST {
            if errno == ENOENT {
                // Missing parents (e.g. /run/edgesplit on a fresh tmpfs): created like `mkdir -p`,
                // and the last one is then checked like any existing directory.
                do {
                    try FileManager.default.createDirectory(
                        atPath: directory, withIntermediateDirectories: true,
                        attributes: [.posixPermissions: uid == 0 ? 0o755 : 0o700])
                } catch {
                    throw ControlSocketError(path: directory, reason: "cannot create the control socket directory: \(error.localizedDescription)")
                }
            } else {
                throw ControlSocketError(path: directory, errno: errno, doing: "cannot use the control socket directory")
            }
        }
        var link = stat()
        guard lstat(directory, &link) == 0 else { throw ControlSocketError(path: directory, errno: errno, doing: "cannot use the control socket directory") }
        if link.st_mode & S_IFMT == S_IFLNK {
            throw ControlSocketError(path: directory, reason: "is a symbolic link; expected a real directory owned by uid \(uid)")
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw ControlSocketError(path: directory, errno: errno, doing: "cannot use the control socket directory") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ControlSocketError(path: directory, errno: errno, doing: "cannot use the control socket directory") }
        try checkOwnedAndPrivate(info, path: directory, uid: uid)

        let parent = (directory as NSString).deletingLastPathComponent
        var parentInfo = stat()
        guard stat(parent.isEmpty ? "." : parent, &parentInfo) == 0 else { throw ControlSocketError(path: parent, errno: errno, doing: "cannot inspect the control socket directory's parent") }
        let sticky = parentInfo.st_mode & S_ISVTX != 0
        if parentInfo.st_uid != 0 && parentInfo.st_uid != uid {
            throw ControlSocketError(
                path: parent,
                reason: "the control socket directory's parent is owned by uid \(parentInfo.st_uid); expected root or uid \(uid)")
        }
        if parentInfo.st_mode & 0o022 != 0 && !sticky {
            throw ControlSocketError(
                path: parent,
                reason: "the control socket directory's parent has mode \(octal(parentInfo.st_mode & 0o7777)), writable by group or others and not sticky, so another user could rename the directory away; expected no group/other write (such as 0755) or the sticky bit (like /tmp)")
        }
    }

    /// The directory rule of ``prepareDirectory(_:)``: owner this uid, no group/other write.
    static func checkOwnedAndPrivate(_ info: stat, path: String, uid: uid_t) throws {
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw ControlSocketError(path: path, reason: "is not a directory; expected a directory owned by uid \(uid)")
        }
        guard info.st_uid == uid else {
            throw ControlSocketError(
                path: path,
                reason: "the control socket directory is owned by uid \(info.st_uid); expected uid \(uid) (the user edgesplit runs as): another user may have created it first")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw ControlSocketError(
                path: path,
                reason: "the control socket directory has mode \(octal(info.st_mode & 0o7777)), writable by group or others; expected no group/other write (0700, or 0755 for root): fix it with chmod go-w")
        }
    }

    /// Closes the socket and removes its file — unless a newer process has put its own
    /// there (a different file, or one somebody still answers on now that ours is closed).
    package func stop() {
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
    let reason: String

    init(path: String, errno: CInt, doing action: String = "cannot listen") {
        self.path = path
        self.reason = "\(action): " + String(cString: strerror(errno))
    }

    init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    var description: String { "\(path): \(reason)" }
}

private func octal(_ mode: mode_t) -> String {
    let digits = String(mode, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

final class ControlRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handle: (ControlRequest) -> EventLoopFuture<ControlReply>

    init(handle: @escaping (ControlRequest) -> EventLoopFuture<ControlReply>) {
        self.handle = handle
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        let channel = context.channel
        let request: ControlRequest
        switch ControlRequest.decode(line: line.readableBytesView) {
        case .success(let decoded): request = decoded
        case .failure(let malformed):
            Self.reply(.refused(malformed.description), on: channel)
            return
        }
        handle(request).whenComplete { result in
            switch result {
            case .success(let response): Self.reply(response, on: channel)
            case .failure(let error): Self.reply(.refused("\(error)"), on: channel)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    static func reply(_ response: ControlReply, on channel: Channel) {
        var data = JSONOutput.data(response)
        data.append(0x0A)
        var buffer = channel.allocator.buffer(capacity: data.count)
        buffer.writeBytes(data)
        channel.writeAndFlush(buffer, promise: nil)
    }
}
