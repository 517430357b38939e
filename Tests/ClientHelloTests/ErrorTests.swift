import ClientHello
import XCTest

final class ErrorTests: XCTestCase {
    /// Checks the error whole, byte by byte and at a few splits.
    private func assertInvalid(_ bytes: [UInt8], _ error: ClientHelloError, limits: ClientHelloLimits = .init(),
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(parseWhole(bytes, limits: limits), .invalid(error), "whole", file: file, line: line)
        XCTAssertEqual(parseByteByByte(bytes, limits: limits), .invalid(error), "byte by byte", file: file, line: line)
        XCTAssertEqual(parseInSteps(bytes, cuts: [bytes.count / 2], limits: limits), .invalid(error), file: file, line: line)
    }

    private func with(_ extensions: [(Int, [UInt8])]) -> [UInt8] {
        var b = HelloBuilder()
        b.extensions = extensions
        return b.bytes
    }

    func testNotTLS() {
        assertInvalid(ascii("GET / HTTP/1.1\r\nHost: webext.contoso.test\r\n\r\n"), .notTLS)
        assertInvalid(ascii("G"), .notTLS)
        assertInvalid(ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), .notTLS)
        // An SSLv2-style (RFC 6101 Appendix E.2) hello: 2-byte length with the high bit set, type 1.
        assertInvalid([0x80, 0x2E, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10] + [UInt8](repeating: 7, count: 37),
                      .notTLS)
        // Handshake type byte, but not a TLS record version.
        assertInvalid([22, 2, 0, 0, 5], .notTLS)
        assertInvalid([22, 4], .notTLS)
        assertInvalid([22, 3, 4], .notTLS)
        XCTAssertEqual(parseWhole([22, 3]), .needMore)
    }

    func testTooLarge() {
        var b = HelloBuilder()
        b.extensions = [Ext.serverName("a.example"), Ext.padding(20_000)]
        // Padding beyond a record: fragment it so only the limit can object.
        let bytes = b.records([10_000])
        assertInvalid(bytes, .tooLarge)
        // Decided as soon as the handshake header is in, long before the bytes arrive.
        XCTAssertEqual(parseWhole(Array(bytes.prefix(9))), .invalid(.tooLarge))
        let small = HelloBuilder().bytes
        let size = HelloBuilder().handshake.count
        XCTAssertNotNil(parseWhole(small, limits: .init(maxBytes: size)).info)
        assertInvalid(small, .tooLarge, limits: .init(maxBytes: size - 1))
    }

    func testRecordOverflow() {
        assertInvalid([22, 3, 1, 0, 0], .recordOverflow)
        assertInvalid([22, 3, 1] + u16((1 << 14) + 2049), .recordOverflow)
        // The largest record length is fine as far as records go.
        XCTAssertEqual(parseWhole([22, 3, 1] + u16((1 << 14) + 2048) + [1, 0, 0]), .needMore)
        // An empty record between fragments.
        let h = HelloBuilder().handshake
        assertInvalid([22, 3, 1] + u16(10) + h.prefix(10) + [22, 3, 1, 0, 0] + [22, 3, 1] + u16(h.count - 10) + h.dropFirst(10),
                      .recordOverflow)
    }

    func testUnexpectedContentType() {
        let h = HelloBuilder().handshake
        for type: UInt8 in [20, 21, 23, 24, 0, 255] {
            assertInvalid([22, 3, 1] + u16(10) + h.prefix(10) + [type, 3, 3] + u16(h.count - 10) + h.dropFirst(10),
                          .unexpectedContentType)
        }
    }

    func testNotClientHello() {
        for type: UInt8 in [0, 2, 4, 11, 20] {
            var b = HelloBuilder()
            b.handshakeType = type
            assertInvalid(b.bytes, .notClientHello)
        }
    }

    func testTruncated() {
        var b = HelloBuilder()
        b.sessionID = [UInt8](repeating: 1, count: 33)
        assertInvalid(b.bytes, .truncated)
        b = HelloBuilder()
        b.cipherSuites = []
        assertInvalid(b.bytes, .truncated)
        b = HelloBuilder()
        b.compression = []
        assertInvalid(b.bytes, .truncated)
        // Odd cipher suites length.
        let body = HelloBuilder().body
        var odd = Array(body.prefix(2 + 32 + 1 + 32)) + u16(3) + [0x13, 0x01, 0x13] + [1, 0]
        assertInvalid([22, 3, 1] + u16(odd.count + 4) + [1] + u24(odd.count) + odd, .truncated)
        // Body shorter than the random.
        odd = [3, 3, 1, 2, 3]
        assertInvalid([22, 3, 1] + u16(odd.count + 4) + [1] + u24(odd.count) + odd, .truncated)
        // Extensions length larger than what is left; one stray byte where it should be.
        b = HelloBuilder()
        b.extensions = nil
        b.trailer = u16(10) + [0, 0]
        assertInvalid(b.bytes, .truncated)
        b.trailer = [0]
        assertInvalid(b.bytes, .truncated)
        // Empty hello body.
        assertInvalid([22, 3, 1, 0, 4, 1, 0, 0, 0], .truncated)
    }

    func testTrailingBytes() {
        var b = HelloBuilder()
        b.trailer = [0]
        assertInvalid(b.bytes, .trailingBytes)
        b.trailer = [0, 0, 0, 0]
        assertInvalid(b.bytes, .trailingBytes)
    }

    func testMalformedExtension() {
        // Extension data longer than the block.
        var b = HelloBuilder()
        b.extensions = nil
        b.trailer = vec16(u16(0xFF01) + u16(5) + [1, 2])
        assertInvalid(b.bytes, .malformedExtension)
        // A dangling half header.
        b.trailer = vec16([0xFF])
        assertInvalid(b.bytes, .malformedExtension)
        // ALPN: empty list, empty name, name overrunning, list length off.
        assertInvalid(with([(16, u16(0))]), .malformedExtension)
        assertInvalid(with([(16, [])]), .malformedExtension)
        assertInvalid(with([(16, vec16([0]))]), .malformedExtension)
        assertInvalid(with([(16, vec16([5, 0x68, 0x32]))]), .malformedExtension)
        assertInvalid(with([(16, u16(3) + vec8(ascii("h2")) + [0])]), .malformedExtension)
        // supported_versions: empty, odd, length off.
        assertInvalid(with([(43, [0])]), .malformedExtension)
        assertInvalid(with([(43, [])]), .malformedExtension)
        assertInvalid(with([(43, vec8([3, 4, 3]))]), .malformedExtension)
        assertInvalid(with([(43, [4, 3, 4])]), .malformedExtension)
        // pre_shared_key: not last, bad framing.
        assertInvalid(with([Ext.preSharedKey, Ext.serverName("a.example")]), .malformedExtension)
        assertInvalid(with([(41, [])]), .malformedExtension)
        assertInvalid(with([(41, Ext.preSharedKey.1 + [0])]), .malformedExtension)
        assertInvalid(with([(41, vec16([1, 2, 3]) + vec16(vec8([UInt8](repeating: 0, count: 32))))]), .malformedExtension)
    }

    func testDuplicateExtension() {
        assertInvalid(with([Ext.serverName("a.example"), Ext.serverName("b.example")]), .duplicateExtension)
        assertInvalid(with([Ext.alpn(["h2"]), Ext.padding(1), Ext.alpn(["h2"])]), .duplicateExtension)
        assertInvalid(with([Ext.padding(1), Ext.padding(2)]), .duplicateExtension)
        assertInvalid(with([(0x0A0A, []), (0x0A0A, [])]), .duplicateExtension)
        // Two different GREASE extensions are fine (Chrome sends two).
        XCTAssertNotNil(parseWhole(with([(0x0A0A, []), (0x1A1A, [0])])).info)
    }

    /// A well-framed host_name that is not a DNS name is routed as no SNI, not refused: real
    /// clients send IP literals and trailing dots although RFC 6066 §3 does not permit them.
    func testHostNameThatIsNotADNSNameIsIgnored() {
        let notDNS = [".", "a..b", ".a.b", "a.b.", "-a.b", "a-.b", "a.b-", "a_b.example", "a b.example", "a:b",
                      "192.168.0.1", "10.0.0.1", "1.2", "123", "a.123", "::1", "[::1]", "é.example", "a\u{0}.example",
                      String(repeating: "a", count: 64) + ".example",
                      Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".") + "a"]
        for name in notDNS {
            let bytes = with([Ext.serverName(name)])
            for result in [parseWhole(bytes), parseByteByByte(bytes)] {
                let info = result.info
                XCTAssertNotNil(info, name)
                XCTAssertNil(info?.serverName, name)
                XCTAssertEqual(info?.serverNameIgnored, true, name)
            }
        }
        XCTAssertEqual(parseWhole(with([Ext.serverName("a.example")])).info?.serverNameIgnored, false)
    }

    func testMalformedServerName() {
        assertInvalid(with([Ext.serverName("")]), .malformedServerName)
        // Empty extension, empty list, list length off, trailing garbage, two host_names.
        assertInvalid(with([(0, [])]), .malformedServerName)
        assertInvalid(with([(0, u16(0))]), .malformedServerName)
        assertInvalid(with([(0, u16(3) + [0] + vec16(ascii("a.example")))]), .malformedServerName)
        assertInvalid(with([(0, vec16([0] + vec16(ascii("a.example")) + [0]))]), .malformedServerName)
        assertInvalid(with([(0, vec16([0] + u16(40) + ascii("a.example")))]), .malformedServerName)
        assertInvalid(with([Ext.serverNameEntries([(0, ascii("a.example")), (0, ascii("b.example"))])]),
                      .malformedServerName)
        assertInvalid(with([Ext.serverNameEntries([(0, ascii("a.example")), (0, ascii("a.example"))])]),
                      .malformedServerName)
        // An entry of another name type cut short.
        assertInvalid(with([(0, vec16([1, 0]))]), .malformedServerName)
    }
}
