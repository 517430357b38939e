import NIOCore
import XCTest

@testable import L4

/// The PROXY protocol v2 header an L4 route sends its member first; `L4RouteTests` see the
/// IPv4 case on the wire, these the other address forms.
final class ProxyProtocolHeaderTests: XCTestCase {
    func testWithoutAddressesIsTheLocalCommand() {
        XCTAssertEqual(ProxyProtocolHeader.bytes(source: nil, destination: nil), ProxyProtocolHeader.signature + [0x20, 0x00, 0x00, 0x00])
    }

    func testIPv6AddressesAndPorts() throws {
        let header = ProxyProtocolHeader.bytes(
            source: try SocketAddress(ipAddress: "2001:db8::1", port: 50_000),
            destination: try SocketAddress(ipAddress: "2001:db8::2", port: 443)
        )
        XCTAssertEqual(Array(header.prefix(12)), ProxyProtocolHeader.signature)
        XCTAssertEqual(Array(header[12..<16]), [0x21, 0x21, 0x00, 36], "v2 PROXY, TCP over IPv6, 36 address bytes")
        XCTAssertEqual(header.count, 16 + 36)
        let prefix: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11)
        XCTAssertEqual(Array(header[16..<32]), prefix + [1])
        XCTAssertEqual(Array(header[32..<48]), prefix + [2])
        XCTAssertEqual(Array(header[48..<52]), [0xC3, 0x50, 0x01, 0xBB])
    }

    /// A client over IPv4 on a dual-stack listener: both addresses go as IPv6, the IPv4 one mapped.
    func testMixedFamiliesAreSentAsIPv6WithTheIPv4AddressMapped() throws {
        let header = ProxyProtocolHeader.bytes(
            source: try SocketAddress(ipAddress: "192.0.2.7", port: 1234),
            destination: try SocketAddress(ipAddress: "::1", port: 443)
        )
        XCTAssertEqual(Array(header[12..<16]), [0x21, 0x21, 0x00, 36])
        XCTAssertEqual(Array(header[16..<32]), [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 192, 0, 2, 7])
        XCTAssertEqual(Array(header[32..<48]), [UInt8](repeating: 0, count: 15) + [1])
        XCTAssertEqual(Array(header[48..<52]), [0x04, 0xD2, 0x01, 0xBB])
    }
}
