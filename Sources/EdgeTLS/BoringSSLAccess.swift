import CNIOBoringSSL
import NIOSSL

/// The one place edgesplit reaches under swift-nio-ssl: the BoringSSL `SSL_CTX *` of a
/// `NIOSSLContext`.
///
/// Why: swift-nio-ssl (2.37) has no API for session-ticket keys, OCSP stapling or "was this
/// session resumed", and BoringSSL, which it vendors as the C module `CNIOBoringSSL`, has
/// all three on the `SSL_CTX` (`SSL_CTX_set_tlsext_ticket_key_cb`, a certificate callback
/// calling `SSL_set_ocsp_response`, an info callback calling `SSL_session_reused`). Every
/// hook edgesplit needs is a callback on the context, so the per-connection `SSL *` never
/// has to be reached from Swift; the context pointer is enough.
///
/// How: `NIOSSLContext` keeps the pointer in a private stored property, `sslContext`, and
/// nothing public hands it out (neither the context callback nor the key-log callback see
/// it), so it is read by reflection. The pointer is accepted only if it leads back to the
/// same object — swift-nio-ssl stores the `NIOSSLContext` itself as the `SSL_CTX`'s app
/// data (ex_data index 0) — so a change in swift-nio-ssl makes `sslContext(of:)` throw, and
/// `BoringSSLAccessTests` fail, instead of edgesplit configuring the wrong memory.
///
/// The hooks must be installed before the context serves its first handshake: BoringSSL's
/// `SSL_CTX` setters are not safe against concurrent handshakes.
enum BoringSSLAccess {
    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    /// The `SSL_CTX *` behind `context`.
    static func sslContext(of context: NIOSSLContext) throws -> OpaquePointer {
        guard let child = Mirror(reflecting: context).children.first(where: { $0.label == "sslContext" }) else {
            throw Unavailable(description: "swift-nio-ssl's NIOSSLContext no longer has a stored 'sslContext'")
        }
        guard let pointer = child.value as? OpaquePointer else {
            throw Unavailable(description: "swift-nio-ssl's NIOSSLContext.sslContext is a \(type(of: child.value)), not an SSL_CTX pointer")
        }
        guard SSL_CTX_get_ex_data(pointer, 0) == Unmanaged.passUnretained(context).toOpaque() else {
            throw Unavailable(description: "swift-nio-ssl's NIOSSLContext.sslContext does not lead back to its context")
        }
        return pointer
    }
}
