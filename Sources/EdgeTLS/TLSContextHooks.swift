#if canImport(Glibc)
import Glibc
#endif
import CNIOBoringSSL
import Foundation
import NIOConcurrencyHelpers
import NIOSSL

/// What edgesplit adds to one certificate's TLS context: session tickets sealed with the
/// process's rotating keys (and no server-side session cache, so resumption is the same on
/// every worker), the OCSP staple read from the configured file, and the count of
/// handshakes and resumed handshakes.
///
/// BoringSSL calls back with only the `SSL *`; the hooks object is found from its `SSL_CTX`
/// through an ex_data slot, which holds a strong reference released when BoringSSL frees the
/// context — a connection still open after a reload keeps its context, and so these hooks.
package final class TLSContextHooks: @unchecked Sendable {
    /// The staple state `stats` shows for a certificate.
    package enum Staple: Sendable, Equatable {
        /// No `ocsp` file configured.
        case notConfigured
        case stapled(thisUpdate: Date, nextUpdate: Date?)
        /// The file is missing or unusable: no staple is sent.
        case rejected(String)
    }

    /// Identity of the OCSP file's current contents, to notice a replacement.
    private struct FileStamp: Equatable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modified: timespec

        static func == (a: FileStamp, b: FileStamp) -> Bool {
            a.device == b.device && a.inode == b.inode && a.size == b.size
                && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
        }
    }

    let ocspPath: String?
    private let serialNumber: ArraySlice<UInt8>
    private let readFile: @Sendable (String) throws -> [UInt8]
    private let lock = NIOLock()
    private var ticketKeys: SessionTicketKeys?
    private var stapleBytes: [UInt8]?
    private var stapleState: Staple
    private var stapleStamp: FileStamp?
    private var handshakes: UInt64 = 0
    private var resumed: UInt64 = 0
    private let handshakeDone: @Sendable (_ resumed: Bool) -> Void

    /// Installs the hooks on `context`; call before it serves any handshake. `readFile`
    /// reads the OCSP file, now and whenever it changes; `handshakeDone` is told, on the
    /// handshake's own thread, whether each completed handshake resumed a session.
    init(
        context: NIOSSLContext, ticketLifetime: UInt32, serialNumber: ArraySlice<UInt8>, ocspPath: String?,
        readFile: @escaping @Sendable (String) throws -> [UInt8], handshakeDone: @escaping @Sendable (_ resumed: Bool) -> Void
    ) throws {
        self.serialNumber = serialNumber
        self.ocspPath = ocspPath
        self.readFile = readFile
        self.handshakeDone = handshakeDone
        stapleState = ocspPath == nil ? .notConfigured : .rejected("not read yet")
        let ctx = try BoringSSLAccess.sslContext(of: context)
        SSL_CTX_set_ex_data(ctx, Self.exDataIndex, Unmanaged.passRetained(self).toOpaque())
        _ = SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF)
        _ = SSL_CTX_set_timeout(ctx, ticketLifetime)
        SSL_CTX_set_session_psk_dhe_timeout(ctx, ticketLifetime)
        _ = SSL_CTX_set_tlsext_ticket_key_cb(ctx) { ssl, name, iv, cipher, hmac, encrypt in
            guard let hooks = TLSContextHooks.hooks(of: ssl), let name, let iv, let cipher, let hmac else { return -1 }
            // Without a ring (e.g. `check`) no ticket is issued and none is accepted.
            guard let keys = hooks.lock.withLock({ hooks.ticketKeys }) else { return 0 }
            return keys.ticketCallback(name: name, iv: iv, cipher: cipher, hmac: hmac, encrypt: encrypt == 1)
        }
        SSL_CTX_set_info_callback(ctx) { ssl, type, _ in
            guard type == SSL_CB_HANDSHAKE_DONE, let hooks = TLSContextHooks.hooks(of: ssl) else { return }
            let reused = SSL_session_reused(ssl) == 1
            hooks.handshakeDone(reused)
            hooks.lock.withLock {
                hooks.handshakes &+= 1
                if reused { hooks.resumed &+= 1 }
            }
        }
        SSL_CTX_set_cert_cb(
            ctx,
            { ssl, _ in
                guard let hooks = TLSContextHooks.hooks(of: ssl) else { return 1 }
                hooks.lock.withLock {
                    if let staple = hooks.stapleBytes {
                        _ = staple.withUnsafeBufferPointer { SSL_set_ocsp_response(ssl, $0.baseAddress, $0.count) }
                    }
                }
                return 1
            },
            nil
        )
    }

    /// The slot holding each context's hooks; its free function drops the reference.
    private static let exDataIndex: Int32 = SSL_CTX_get_ex_new_index(0, nil, nil, nil) { _, pointer, _, _, _, _ in
        guard let pointer else { return }
        Unmanaged<TLSContextHooks>.fromOpaque(pointer).release()
    }

    private static func hooks(of ssl: OpaquePointer?) -> TLSContextHooks? {
        guard let ssl, let ctx = SSL_get_SSL_CTX(ssl), let pointer = SSL_CTX_get_ex_data(ctx, exDataIndex) else { return nil }
        return Unmanaged<TLSContextHooks>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Tickets are issued and accepted from now on, sealed with `keys`.
    func useTicketKeys(_ keys: SessionTicketKeys) {
        lock.withLock { ticketKeys = keys }
    }

    var counts: (handshakes: UInt64, resumed: UInt64) {
        lock.withLock { (handshakes, resumed) }
    }

    package var staple: Staple {
        lock.withLock { stapleState }
    }

    /// Reads the OCSP file again if it changed since the last look (or was never read).
    /// Returns the new state when it changed, for the log; a file that went missing or bad
    /// stops the stapling.
    @discardableResult
    func refreshStaple(now: Date = Date()) -> Staple? {
        guard let ocspPath else { return nil }
        var info = stat()
        guard stat(ocspPath, &info) == 0 else {
            let reason = "cannot read '\(ocspPath)': \(String(cString: strerror(errno)))"
            return update(stamp: nil, bytes: nil, state: .rejected(reason))
        }
        let stamp = FileStamp(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size), modified: info.st_mtim
        )
        let unchanged = lock.withLock { () -> Bool in
            // An expired staple is checked again even if the file did not change.
            if case .stapled(_, let next?) = stapleState, next < now { return false }
            return stapleStamp == stamp
        }
        if unchanged { return nil }
        do {
            let bytes = try readFile(ocspPath)
            let accepted = try OCSPResponseCheck.check(bytes, serialNumber: serialNumber, now: now)
            return update(stamp: stamp, bytes: bytes, state: .stapled(thisUpdate: accepted.thisUpdate, nextUpdate: accepted.nextUpdate))
        } catch {
            return update(stamp: stamp, bytes: nil, state: .rejected("'\(ocspPath)': \(error)"))
        }
    }

    private func update(stamp: FileStamp?, bytes: [UInt8]?, state: Staple) -> Staple? {
        lock.withLock {
            stapleStamp = stamp
            stapleBytes = bytes
            guard state != stapleState else { return nil }
            stapleState = state
            return state
        }
    }
}
