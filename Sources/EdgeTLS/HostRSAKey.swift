import CHostRSA
import NIOCore
import NIOSSL

/// An RSA private key whose handshake signatures are computed by the host's OpenSSL 3
/// libcrypto instead of BoringSSL: on CPUs with AVX-512 IFMA, OpenSSL signs RSA-2048 about
/// twice as fast, and the signature is most of what a full handshake with an RSA certificate
/// costs (README, Performance). BoringSSL still runs the handshake and the record layer and
/// asks this key for the one private-key operation. ECDSA keys are not wrapped: BoringSSL's
/// P-256 is the faster one.
///
/// Signing with one `EVP_PKEY` from several threads is safe in OpenSSL 3 (each signature has
/// its own context), so one key serves every worker.
final class HostRSAKey: NIOSSLCustomPrivateKey, Hashable, @unchecked Sendable {
    /// The host library, as `stats` names the signer ("OpenSSL 3.0.17 1 Jul 2025").
    static let library = String(cString: es_host_rsa_library())

    private let key: OpaquePointer
    private let signatureSize: Int

    /// nil when `key` is not RSA, or the host library cannot read it: BoringSSL keeps it.
    init?(_ key: NIOSSLPrivateKey) {
        guard let der = try? key.derBytes,
            let loaded = der.withUnsafeBufferPointer({ es_host_rsa_key_from_der($0.baseAddress, $0.count) })
        else { return nil }
        self.key = loaded
        self.signatureSize = es_host_rsa_signature_size(loaded)
    }

    deinit { es_host_rsa_key_free(key) }

    /// RSA-PSS first (all TLS 1.3 allows), then PKCS#1 v1.5 for TLS 1.2 clients without PSS.
    let signatureAlgorithms: [SignatureAlgorithm] = [
        .rsaPssRsaeSha256, .rsaPssRsaeSha384, .rsaPssRsaeSha512, .rsaPkcs1Sha256, .rsaPkcs1Sha384, .rsaPkcs1Sha512,
    ]

    /// Signs on the calling event loop, at once: the future is already complete when BoringSSL
    /// asks again.
    func sign(channel: Channel, algorithm: SignatureAlgorithm, data: ByteBuffer) -> EventLoopFuture<ByteBuffer> {
        var signature = channel.allocator.buffer(capacity: signatureSize)
        var failed = false
        signature.writeWithUnsafeMutableBytes(minimumWritableBytes: signatureSize) { out in
            let written = data.withUnsafeReadableBytes { message in
                es_host_rsa_sign(
                    key, algorithm.rawValue, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count,
                    out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count)
            }
            failed = written < 0
            return max(0, written)
        }
        guard !failed else { return channel.eventLoop.makeFailedFuture(HostRSAError.signingFailed(algorithm.rawValue)) }
        return channel.eventLoop.makeSucceededFuture(signature)
    }

    /// Only RSA key exchange decrypts, and edgesplit offers ECDHE suites alone.
    func decrypt(channel: Channel, data: ByteBuffer) -> EventLoopFuture<ByteBuffer> {
        channel.eventLoop.makeFailedFuture(HostRSAError.decryptionNotOffered)
    }

    static func == (lhs: HostRSAKey, rhs: HostRSAKey) -> Bool { lhs === rhs }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

enum HostRSAError: Error, CustomStringConvertible {
    case signingFailed(UInt16)
    case decryptionNotOffered

    var description: String {
        switch self {
        case .signingFailed(let scheme): return "the host library could not sign with scheme 0x\(String(scheme, radix: 16))"
        case .decryptionNotOffered: return "RSA key exchange is not offered"
        }
    }
}
