#if canImport(Glibc)
import Glibc
#endif
import Affinity
@testable import Steering
import XCTest

final class ListenerGroupTests: XCTestCase {
    func testEphemeralPortIsSharedByAllSockets() throws {
        let group = try ListenerGroup(address: "127.0.0.1", port: 0, workers: 3)
        defer { group.close() }
        XCTAssertEqual(group.descriptors.count, 3)
        XCTAssertGreaterThan(group.port, 0)
        XCTAssertEqual(group.boundAddress, ClientAddress("127.0.0.1"))
        XCTAssertFalse(group.isDualStack)
        for fd in group.descriptors {
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
            let port = withUnsafeBytes(of: storage) { Int(UInt16($0[2]) << 8 | UInt16($0[3])) }
            XCTAssertEqual(port, group.port)
        }
        let key = group.groupKey
        XCTAssertEqual(key.family, UInt32(AF_INET))
        XCTAssertEqual(key.port, UInt32(group.port))
        XCTAssertEqual(withUnsafeBytes(of: key.addr) { Array($0) }, [127, 0, 0, 1] + [UInt8](repeating: 0, count: 12))
    }

    func testDualStackAndIPv6Only() throws {
        let dual = try ListenerGroup(address: "[::]", port: 0, workers: 2)
        defer { dual.close() }
        XCTAssertTrue(dual.isDualStack)
        var v: Int32 = -1
        var len = socklen_t(4)
        XCTAssertEqual(getsockopt(dual.descriptors[0], Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v, &len), 0)
        XCTAssertEqual(v, 0)
        let only = try ListenerGroup(address: "::1", port: 0, workers: 2)
        defer { only.close() }
        XCTAssertFalse(only.isDualStack)
        XCTAssertEqual(getsockopt(only.descriptors[1], Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v, &len), 0)
        XCTAssertEqual(v, 1)
        XCTAssertEqual(only.groupKey.family, UInt32(AF_INET6))
    }

    func testOperatorErrors() throws {
        XCTAssertThrowsError(try ListenerGroup(address: "not-an-address", port: 0, workers: 2)) {
            XCTAssertEqual($0 as? SteeringError, .badAddress("not-an-address"))
            XCTAssertTrue("\($0)".contains("bad address"))
        }
        XCTAssertThrowsError(try ListenerGroup(address: "127.0.0.1", port: 0, workers: 0)) {
            XCTAssertEqual($0 as? SteeringError, .workerCount(0))
        }
        XCTAssertThrowsError(try ListenerGroup(address: "192.0.2.1", port: 0, workers: 1)) {
            XCTAssertEqual($0 as? SteeringError, .addressNotAvailable(address: "192.0.2.1"))
        }
        // A plain (non-reuseport) listener holds the port: address in use.
        let plain = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(plain) }
        var (addr, alen, _) = socketAddress("127.0.0.1", port: 0)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(plain, $0, alen) } }
        XCTAssertEqual(listen(plain, 1), 0)
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(plain, $0, &len) } }
        let port = withUnsafeBytes(of: storage) { Int(UInt16($0[2]) << 8 | UInt16($0[3])) }
        XCTAssertThrowsError(try ListenerGroup(address: "127.0.0.1", port: port, workers: 2)) {
            XCTAssertEqual($0 as? SteeringError, .addressInUse(address: "127.0.0.1", port: port))
        }
    }

    func testRelinquishKeepsTheSocketsOpen() throws {
        let group = try ListenerGroup(address: "127.0.0.1", port: 0, workers: 2)
        group.relinquish()
        group.close()
        for fd in group.descriptors {
            XCTAssertNotEqual(fcntl(fd, F_GETFD), -1, "fd \(fd) was closed")
            Glibc.close(fd)
        }
    }
}
