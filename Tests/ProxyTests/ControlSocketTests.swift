#if canImport(Glibc)
import Glibc
#endif
import Admin
import Foundation
import NIOCore
import NIOPosix
import XCTest

@testable import AdminServer
@testable import Proxy

/// The control socket answers `reload` and `farm drain`: its directory must be one no other
/// local user controls. A directory that breaks the rule is refused with what was found and
/// what is expected, and left as it was.
final class ControlSocketTests: XCTestCase {
    private var base = ""

    override func setUpWithError() throws {
        base = FileManager.default.temporaryDirectory.path + "/edgesplit-control-test-\(UUID().uuidString)"
        XCTAssertEqual(mkdir(base, 0o700), 0)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: base)
    }

    private func refusal(_ directory: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try ControlSocket.prepareDirectory(directory)
            XCTFail("\(directory) was accepted", file: file, line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }

    private func mode(_ path: String) -> mode_t {
        var info = stat()
        XCTAssertEqual(lstat(path, &info), 0)
        return info.st_mode & 0o7777
    }

    func testDefaultDirectoryIsNeverInTmp() {
        XCTAssertEqual(ServerEnvironment.controlDirectory(environment: [:], uid: 1000), "/run/user/1000/edgesplit")
        XCTAssertEqual(ServerEnvironment.controlDirectory(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"], uid: 1000), "/run/user/1000/edgesplit")
        XCTAssertEqual(ServerEnvironment.controlDirectory(environment: [:], uid: 0), "/run/edgesplit")
        XCTAssertEqual(ServerEnvironment.controlDirectory(environment: ["EDGESPLIT_CONTROL_DIR": "/srv/ctl"], uid: 1000), "/srv/ctl")
    }

    func testMissingDirectoryIsCreatedPrivate() throws {
        let directory = base + "/a/control"
        try ControlSocket.prepareDirectory(directory)
        XCTAssertEqual(mode(directory), geteuid() == 0 ? 0o755 : 0o700)
    }

    func testDirectoryOfAnotherUserIsRefused() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root to give a directory away") }
        let directory = base + "/control"
        XCTAssertEqual(mkdir(directory, 0o700), 0)
        XCTAssertEqual(chown(directory, 65534, 65534), 0)
        let message = refusal(directory)
        XCTAssertTrue(message.hasPrefix("\(directory): "), message)
        XCTAssertTrue(message.contains("owned by uid 65534; expected uid 0"), message)
    }

    func testDirectoryWritableByOthersIsRefusedAndLeftAlone() throws {
        for bad: mode_t in [0o777, 0o770, 0o702] {
            let directory = base + "/control-\(String(bad, radix: 8))"
            XCTAssertEqual(mkdir(directory, 0o700), 0)
            XCTAssertEqual(chmod(directory, bad), 0)
            let message = refusal(directory)
            XCTAssertTrue(message.contains("has mode 0\(String(bad, radix: 8)), writable by group or others"), message)
            XCTAssertTrue(message.contains("expected no group/other write"), message)
            XCTAssertEqual(mode(directory), bad, "refused, never repaired")
        }
    }

    func testSymbolicLinkIsRefusedAndNotFollowed() throws {
        let real = base + "/real"
        XCTAssertEqual(mkdir(real, 0o777), 0)
        XCTAssertEqual(chmod(real, 0o777), 0)
        let link = base + "/control"
        XCTAssertEqual(symlink(real, link), 0)
        let message = refusal(link)
        XCTAssertTrue(message.contains("is a symbolic link; expected a real directory"), message)
        XCTAssertEqual(mode(real), 0o777, "the link's target is untouched")
    }

    func testParentWritableByOthersWithoutStickyBitIsRefused() throws {
        let parent = base + "/shared"
        XCTAssertEqual(mkdir(parent, 0o777), 0)
        XCTAssertEqual(chmod(parent, 0o777), 0)
        let message = refusal(parent + "/control")
        XCTAssertTrue(message.hasPrefix("\(parent): "), message)
        XCTAssertTrue(message.contains("not sticky"), message)
        XCTAssertEqual(chmod(parent, 0o1777), 0)
        XCTAssertNoThrow(try ControlSocket.prepareDirectory(parent + "/control"), "a sticky parent (like /tmp) is fine")
    }

    func testSocketIsBoundWithMode0600() throws {
        let socket = ControlSocket(directory: base + "/control", instance: "t")
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        try socket.start(on: loop) { _ in loop.makeSucceededFuture(.done) }
        defer { socket.stop() }
        var info = stat()
        XCTAssertEqual(lstat(socket.path, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFSOCK)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
    }

    /// Each line is decoded once into a `ControlRequest`; a line that is not one is answered
    /// with why, and the connection goes on answering.
    func testMalformedLinesAreAnsweredAndTheConnectionGoesOn() throws {
        let socket = ControlSocket(directory: base + "/control", instance: "t")
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        try socket.start(on: loop) { request in
            loop.makeSucceededFuture(request == .ping ? .pong(instance: "t", generation: 1) : .refused("only ping here"))
        }
        defer { socket.stop() }
        let connection = try ControlConnection(path: socket.path)
        XCTAssertEqual(try connection.call(.ping), .pong(instance: "t", generation: 1))
        XCTAssertEqual(try connection.call(.reload), .refused("only ping here"))

        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socket.path.utf8)) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(connected, 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func exchange(_ line: String) -> [String: Any] {
            let bytes = Array((line + "\n").utf8)
            _ = send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL))
            var reply: [UInt8] = []
            var byte: UInt8 = 0
            while recv(fd, &byte, 1, 0) == 1, byte != 0x0A { reply.append(byte) }
            return (try? JSONSerialization.jsonObject(with: Data(reply))) as? [String: Any] ?? [:]
        }
        let garbage = exchange("hello")
        XCTAssertEqual(garbage["ok"] as? Bool, false)
        XCTAssertEqual(garbage["error"] as? String, "expected one JSON object per line")
        XCTAssertEqual(exchange(#"{"command": "drop-tables"}"#)["error"] as? String, "unknown command 'drop-tables'")
        XCTAssertEqual(exchange(#"{"command": "farm-drain"}"#)["error"] as? String, #"farm-drain needs "farm" and "member" (strings)"#)
        let pong = exchange(#"{"command": "ping"}"#)
        XCTAssertEqual(pong["ok"] as? Bool, true, "the same connection still answers")
        XCTAssertEqual(pong["generation"] as? Int, 1)
    }
}
