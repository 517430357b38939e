import CNIOBoringSSL
import Demo
import NIOSSL
import XCTest

@testable import EdgeTLS

/// edgesplit's reach under swift-nio-ssl (`BoringSSLAccess`) and what it installs there.
/// If a swift-nio-ssl update moves the `SSL_CTX` pointer, these fail by name — session
/// tickets, OCSP stapling and the resumption counts all depend on it.
final class BoringSSLAccessTests: XCTestCase {
    /// A server context for a certificate of a throwaway CA.
    static func serverContext() throws -> NIOSSLContext {
        let ca = try CertificateAuthority.make(commonName: "edgesplit test CA")
        let issued = try ca.issue(commonName: "webext.contoso.test", dnsNames: ["webext.contoso.test"])
        let chain = try NIOSSLCertificate.fromPEMBytes(issued.certificatePEMBytes)
        let key = try NIOSSLPrivateKey(bytes: issued.privateKeyPEMBytes, format: .pem)
        return try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
    }

    func testReachesTheSSLContextOfANIOSSLContext() throws {
        let context = try Self.serverContext()
        let pointer: OpaquePointer
        do {
            pointer = try BoringSSLAccess.sslContext(of: context)
        } catch {
            XCTFail("""
                swift-nio-ssl changed underneath edgesplit: \(error). Session tickets, OCSP stapling and \
                resumption counts need the SSL_CTX of a NIOSSLContext; see BoringSSLAccess.swift.
                """)
            return
        }
        XCTAssertEqual(SSL_CTX_get_ex_data(pointer, 0), Unmanaged.passUnretained(context).toOpaque())
        XCTAssertEqual(SSL_CTX_get_max_proto_version(pointer), UInt16(TLS1_3_VERSION), "the pointer is a live SSL_CTX (NIOSSL sets TLS 1.3 as the maximum)")
    }

    func testHooksInstallOnAContextAndKeepTheSessionCacheOff() throws {
        let context = try Self.serverContext()
        let hooks = try TLSContextHooks(
            context: context, ticketLifetime: 7200, serialNumber: [1], ocspPath: nil, readFile: { _ in [] }, handshakeDone: { _ in }
        )
        let pointer = try BoringSSLAccess.sslContext(of: context)
        XCTAssertEqual(SSL_CTX_get_session_cache_mode(pointer), SSL_SESS_CACHE_OFF)
        XCTAssertEqual(SSL_CTX_get_timeout(pointer), 7200)
        XCTAssertEqual(hooks.staple, .notConfigured)
        XCTAssertEqual(hooks.counts.handshakes, 0)
    }

    /// The ticket callback as BoringSSL drives it: seal under the current key, open it while
    /// that key is current (1) or previous (2, renew), and not after a second rotation (0).
    func testTicketKeysAcceptTheCurrentAndPreviousKeyOnly() throws {
        let keys = SessionTicketKeys(interval: .seconds(3600))
        let cipher = try XCTUnwrap(EVP_CIPHER_CTX_new())
        let hmac = try XCTUnwrap(HMAC_CTX_new())
        defer {
            EVP_CIPHER_CTX_free(cipher)
            HMAC_CTX_free(hmac)
        }
        var name = [UInt8](repeating: 0, count: 16)
        var iv = [UInt8](repeating: 0, count: Int(EVP_MAX_IV_LENGTH))
        func call(encrypt: Bool) -> Int32 {
            name.withUnsafeMutableBufferPointer { name in
                iv.withUnsafeMutableBufferPointer { iv in
                    keys.ticketCallback(name: name.baseAddress!, iv: iv.baseAddress!, cipher: cipher, hmac: hmac, encrypt: encrypt)
                }
            }
        }
        XCTAssertEqual(call(encrypt: true), 1)
        XCTAssertNotEqual(name, [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(name.withUnsafeBufferPointer { keys.match(name: $0.baseAddress!) }, .current)
        XCTAssertEqual(call(encrypt: false), 1)

        keys.rotate()
        XCTAssertEqual(name.withUnsafeBufferPointer { keys.match(name: $0.baseAddress!) }, .previous)
        XCTAssertEqual(call(encrypt: false), 2, "the previous key opens the ticket and asks for a renewed one")

        keys.rotate()
        XCTAssertNil(name.withUnsafeBufferPointer { keys.match(name: $0.baseAddress!) })
        XCTAssertEqual(call(encrypt: false), 0, "two rotations later the ticket is unknown: a full handshake")
        XCTAssertEqual(keys.status.rotations, 2)
    }

    func testTicketLifetimeIsTwoIntervals() {
        XCTAssertEqual(SessionTicketKeys.lifetimeSeconds(rotate: .seconds(12 * 3600)), 86_400)
        XCTAssertEqual(SessionTicketKeys.lifetimeSeconds(rotate: .milliseconds(200)), 1)
    }
}
