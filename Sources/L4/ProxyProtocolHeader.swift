import NIOCore

/// The PROXY protocol v2 header (haproxy.org/download/2.9/doc/proxy-protocol.txt §2.2) an
/// L4 route with `proxy_protocol: v2` sends to its member before the client's bytes, so the
/// member sees the client's address although the TCP connection comes from edgesplit.
package enum ProxyProtocolHeader {
    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// PROXY command over TCP from `source` (the client) to `destination` (the address the
    /// client connected to). Mixed families are sent as IPv6 (IPv4-mapped); without
    /// addresses, the LOCAL command (the member uses the connection's own addresses).
    package static func bytes(source: SocketAddress?, destination: SocketAddress?) -> [UInt8] {
        var header = signature
        guard let source, let destination, var src = address(source), var dst = address(destination) else {
            header += [0x20, 0x00, 0x00, 0x00]  // v2 LOCAL, UNSPEC, no addresses
            return header
        }
        if src.bytes.count != dst.bytes.count {
            src.bytes = mapped(src.bytes)
            dst.bytes = mapped(dst.bytes)
        }
        let ipv4 = src.bytes.count == 4
        header.append(0x21)  // v2 PROXY
        header.append(ipv4 ? 0x11 : 0x21)  // TCP over IPv4 / IPv6
        let length = ipv4 ? 12 : 36
        header += [UInt8(length >> 8), UInt8(length & 0xFF)]
        header += src.bytes + dst.bytes
        header += [UInt8(src.port >> 8), UInt8(src.port & 0xFF), UInt8(dst.port >> 8), UInt8(dst.port & 0xFF)]
        return header
    }

    private static func address(_ address: SocketAddress) -> (bytes: [UInt8], port: Int)? {
        switch address {
        case .v4(let v4):
            return (withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }, address.port ?? 0)
        case .v6(let v6):
            return (withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }, address.port ?? 0)
        default:
            return nil
        }
    }

    private static func mapped(_ bytes: [UInt8]) -> [UInt8] {
        bytes.count == 4 ? [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + bytes : bytes
    }
}
