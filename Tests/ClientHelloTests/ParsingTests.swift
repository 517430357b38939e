import ClientHello
import XCTest

final class ParsingTests: XCTestCase {
    func testTypicalHello() throws {
        let bytes = HelloBuilder().bytes
        let info = try XCTUnwrap(parseWhole(bytes).info)
        XCTAssertEqual(info.serverName, "webext.contoso.test")
        XCTAssertEqual(info.alpn, ["h2", "http/1.1"])
        XCTAssertEqual(info.legacyVersion, 0x0303)
        XCTAssertEqual(info.supportedVersions, [0x0304, 0x0303])
        XCTAssertEqual(info.cipherSuites, [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F])
        XCTAssertFalse(info.hasPreSharedKey)
        XCTAssertFalse(info.hasSessionTicket)
        XCTAssertEqual(info.byteCount, bytes.count)
    }

    func testSNIAbsent() throws {
        var b = HelloBuilder()
        b.extensions = [Ext.alpn(["http/1.1"]), Ext.supportedVersions([0x0304])]
        let info = try XCTUnwrap(parseWhole(b.bytes).info)
        XCTAssertNil(info.serverName)
        XCTAssertEqual(info.alpn, ["http/1.1"])
    }

    func testSNIUppercaseIsLowercased() throws {
        var b = HelloBuilder()
        b.extensions = [Ext.serverName("WebExt.CONTOSO.Test")]
        XCTAssertEqual(parseWhole(b.bytes).info?.serverName, "webext.contoso.test")
    }

    func testSNIOtherNameTypesAreSkipped() throws {
        var b = HelloBuilder()
        b.extensions = [Ext.serverNameEntries([(7, [1, 2, 3]), (0, ascii("a-b.example")), (9, [])])]
        XCTAssertEqual(parseWhole(b.bytes).info?.serverName, "a-b.example")
        b.extensions = [Ext.serverNameEntries([(7, [1, 2, 3])])]
        let info = try XCTUnwrap(parseWhole(b.bytes).info)
        XCTAssertNil(info.serverName)
    }

    func testSNIEdgeLengths() {
        let label63 = String(repeating: "a", count: 63)
        let name255 = [label63, label63, label63, String(repeating: "b", count: 63)].joined(separator: ".")
        XCTAssertEqual(name255.utf8.count, 255)
        var b = HelloBuilder()
        b.extensions = [Ext.serverName(name255)]
        XCTAssertEqual(parseWhole(b.bytes).info?.serverName, name255)
        b.extensions = [Ext.serverName("x")]
        XCTAssertEqual(parseWhole(b.bytes).info?.serverName, "x")
        b.extensions = [Ext.serverName("1st.example")]
        XCTAssertEqual(parseWhole(b.bytes).info?.serverName, "1st.example")
    }

    func testALPNList() {
        var b = HelloBuilder()
        b.extensions = [Ext.alpn(["h2", "http/1.1", "acme-tls/1"])]
        XCTAssertEqual(parseWhole(b.bytes).info?.alpn, ["h2", "http/1.1", "acme-tls/1"])
    }

    func testGREASEEverywhereIsIgnored() throws {
        var b = HelloBuilder()
        b.cipherSuites = [0x0A0A, 0x1301, 0xFAFA, 0xC02F, 0x8A8A]
        b.extensions = [
            (0x0A0A, []),
            Ext.serverName("grease.example"),
            (0x1A1A, [0]),
            (16, vec16(vec8([0x3A, 0x3A]) + vec8(ascii("h2")) + vec8([0xDA, 0xDA]))),
            Ext.supportedVersions([0x4A4A, 0x0304, 0x5A5A, 0x0303]),
            (0xEAEA, [1, 2, 3]),
        ]
        let info = try XCTUnwrap(parseWhole(b.bytes).info)
        XCTAssertEqual(info.cipherSuites, [0x1301, 0xC02F])
        XCTAssertEqual(info.supportedVersions, [0x0304, 0x0303])
        XCTAssertEqual(info.alpn, ["h2"])
        XCTAssertEqual(info.serverName, "grease.example")
        // Near-GREASE values are kept.
        b.cipherSuites = [0x0A1A, 0x1A0A, 0x0B0B]
        b.extensions = nil
        XCTAssertEqual(parseWhole(b.bytes).info?.cipherSuites, [0x0A1A, 0x1A0A, 0x0B0B])
    }

    func testPreSharedKeyAndSessionTicket() throws {
        var b = HelloBuilder()
        b.extensions = [Ext.serverName("a.example"), Ext.sessionTicket([1, 2, 3, 4]), Ext.padding(10), Ext.preSharedKey]
        let info = try XCTUnwrap(parseWhole(b.bytes).info)
        XCTAssertTrue(info.hasPreSharedKey)
        XCTAssertTrue(info.hasSessionTicket)
    }

    func testTLS12HelloWithoutExtensions() throws {
        var b = HelloBuilder()
        b.extensions = nil
        b.sessionID = []
        b.legacyVersion = 0x0301
        let info = try XCTUnwrap(parseWhole(b.bytes).info)
        XCTAssertNil(info.serverName)
        XCTAssertEqual(info.alpn, [])
        XCTAssertEqual(info.supportedVersions, [])
        XCTAssertEqual(info.legacyVersion, 0x0301)
        // An empty extensions block is fine too.
        b.extensions = []
        XCTAssertNotNil(parseWhole(b.bytes).info)
    }

    func testRecordVersions() {
        for version in [0x0301, 0x0302, 0x0303] {
            var b = HelloBuilder()
            b.recordVersion = version
            XCTAssertNotNil(parseWhole(b.bytes).info, "record version \(version)")
        }
        for version in [0x0300, 0x0304, 0x0201, 0x0000] {
            var b = HelloBuilder()
            b.recordVersion = version
            XCTAssertEqual(parseWhole(b.bytes), .invalid(.notTLS), "record version \(version)")
        }
    }

    func testBytesAfterTheHelloAreNotExamined() throws {
        let hello = HelloBuilder().bytes
        // Another record after the hello (even a nonsense one) and garbage after it.
        let followed = hello + [23, 3, 3, 0, 2, 0xAB, 0xCD] + ascii("garbage")
        let info = try XCTUnwrap(parseWhole(followed).info)
        XCTAssertEqual(info.byteCount, hello.count)
        // Bytes after the ClientHello inside its own record.
        let h = HelloBuilder().handshake
        let extra: [UInt8] = [2, 0, 0, 0]  // Another handshake message; it is replayed, not parsed.
        let sameRecord = [22, 3, 1] + u16(h.count + extra.count) + h + extra
        let info2 = try XCTUnwrap(parseWhole(sameRecord).info)
        XCTAssertEqual(info2.byteCount, 5 + h.count)
        // Decided before the record's remaining bytes arrive.
        XCTAssertEqual(parseWhole(Array(sameRecord.prefix(5 + h.count))).info, info2)
    }

    /// `openssl s_client -connect 127.0.0.1:PORT -servername webext.contoso.test -alpn h2,http/1.1`
    /// (OpenSSL 3.0.22), the first bytes recorded by a listener.
    static let openSSLHello = hex("""
        16030101520100014e0303e34c8c8506b60794893ee22c55cc1f55dade84cbe68b4bb8db5f2bf05c9f24562042bc3dc3768e0f88b0\
        4d75d0a3092afcfdf354ddf5e1fc6f8986c7a939458916003e130213031301c02cc030009fcca9cca8ccaac02bc02f009ec024c028\
        006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000c70000001800160000137765626578742e\
        636f6e746f736f2e74657374000b000403000102000a00160014001d0017001e0019001801000101010201030104002300000010000e\
        000c02683208687474702f312e310016000000170000000d002a0028040305030603080708080809080a080b08040805080604010501\
        0601030303010302040205020602002b0009080304030303020301002d00020101003300260024001d0020145e5e455f39192bd7e225\
        59e5590ceb1d364097f10a3fe47c432e928aefce5a
        """)

    func testCapturedOpenSSLHello() throws {
        let bytes = Self.openSSLHello
        XCTAssertEqual(bytes.count, 343)
        let info = try XCTUnwrap(parseWhole(bytes).info)
        XCTAssertEqual(info.serverName, "webext.contoso.test")
        XCTAssertEqual(info.alpn, ["h2", "http/1.1"])
        XCTAssertEqual(info.legacyVersion, 0x0303)
        XCTAssertEqual(info.supportedVersions, [0x0304, 0x0303, 0x0302, 0x0301])
        XCTAssertEqual(info.cipherSuites.prefix(3), [0x1302, 0x1303, 0x1301])
        XCTAssertEqual(info.cipherSuites.count, 31)
        XCTAssertFalse(info.hasPreSharedKey)
        XCTAssertFalse(info.hasSessionTicket)
        XCTAssertEqual(info.byteCount, 343)
        XCTAssertEqual(parseByteByByte(bytes), .complete(info))
    }

    func testErrorReasons() {
        let all: [ClientHelloError] = [.notTLS, .tooLarge, .recordOverflow, .unexpectedContentType, .notClientHello,
                                       .truncated, .malformedExtension, .duplicateExtension, .malformedServerName,
                                       .trailingBytes]
        XCTAssertEqual(Set(all.map(\.reason)).count, all.count)
    }
}
