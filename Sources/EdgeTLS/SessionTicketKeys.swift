import CNIOBoringSSL
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOConcurrencyHelpers

/// The keys that seal TLS session tickets: one ring per process, shared by every worker and
/// every certificate's context, so a client resumes whichever worker the kernel steers it to
/// and whichever certificate it asked for.
///
/// Keys are random bytes in memory, never written anywhere. Every `interval` the current key
/// becomes the previous one and a fresh key seals new tickets; a ticket sealed with the
/// previous key is still accepted (and replaced by one under the current key), anything
/// older is not. A ticket therefore resumes for between one and two intervals, which bounds
/// how long a stolen key could decrypt recorded sessions. A reload keeps the ring (it belongs
/// to the process, not to a generation); a new process starts with new keys.
public final class SessionTicketKeys: @unchecked Sendable {
    /// One ticket key: a public name (sent in the ticket, to find the key again), an
    /// HMAC-SHA256 key and an AES-256-CBC key (RFC 5077 §4's recommended construction,
    /// as BoringSSL's ticket callback expects).
    struct Key {
        static let nameLength = 16
        let name: [UInt8]
        private(set) var hmacKey: [UInt8]
        private(set) var aesKey: [UInt8]
        let created: ContinuousClock.Instant

        /// Overwrites the secret bytes in place before the key is dropped.
        mutating func wipe() {
            hmacKey.withUnsafeMutableBytes { explicit_bzero($0.baseAddress!, $0.count) }
            aesKey.withUnsafeMutableBytes { explicit_bzero($0.baseAddress!, $0.count) }
        }

        static func random(at now: ContinuousClock.Instant) -> Key {
            var generator = SystemRandomNumberGenerator()
            func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) } }
            return Key(name: bytes(nameLength), hmacKey: bytes(32), aesKey: bytes(32), created: now)
        }
    }

    /// Which key a ticket's name refers to.
    enum Match: Equatable {
        case current
        case previous
    }

    /// What `stats` shows.
    public struct Status: Sendable {
        public let rotations: Int
        /// Seconds since the current key started sealing tickets.
        public let currentKeyAge: Double
        public let interval: Duration
    }

    private let lock = NIOLock()
    private var current: Key
    private var previous: Key?
    private var rotations = 0
    private var interval: Duration
    private var timer: DispatchSourceTimer?
    private let queue = DispatchQueue(label: "edgesplit.session-ticket-keys")

    public init(interval: Duration) {
        self.interval = interval
        current = Key.random(at: .now)
    }

    deinit {
        timer?.cancel()
        current.wipe()
        previous?.wipe()
    }

    /// Starts rotating every `interval`, or reschedules when a reload changed it.
    public func rotate(every interval: Duration) {
        lock.withLock {
            guard timer == nil || interval != self.interval else { return }
            self.interval = interval
            timer?.cancel()
            let timer = DispatchSource.makeTimerSource(queue: queue)
            let (seconds, attoseconds) = interval.components
            let period = DispatchTimeInterval.nanoseconds(Int(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
            timer.schedule(deadline: .now() + period, repeating: period, leeway: .milliseconds(10))
            timer.setEventHandler { [weak self] in self?.rotate() }
            timer.resume()
            self.timer = timer
        }
    }

    /// Stops the timer (the keys stay usable until the ring is released).
    public func stop() {
        lock.withLock {
            timer?.cancel()
            timer = nil
        }
    }

    /// The current key becomes the previous one; a fresh key seals from now on; the old
    /// previous key is wiped and forgotten.
    func rotate() {
        lock.withLock {
            previous?.wipe()
            previous = current
            current = Key.random(at: .now)
            rotations += 1
        }
    }

    public var status: Status {
        lock.withLock {
            let age = ContinuousClock.now - current.created
            return Status(rotations: rotations, currentKeyAge: age.seconds, interval: interval)
        }
    }

    /// Ticket lifetime announced to clients: a ticket resumes for at most two intervals.
    static func lifetimeSeconds(rotate: Duration) -> UInt32 {
        UInt32(clamping: max(1, Int64(rotate.seconds * 2)))
    }

    /// Which key `name` belongs to, if it is still accepted.
    func match(name: UnsafePointer<UInt8>) -> Match? {
        lock.withLock { matchLocked(name).map(\.0) }
    }

    private func matchLocked(_ name: UnsafePointer<UInt8>) -> (Match, Key)? {
        func same(_ key: Key) -> Bool { key.name.withUnsafeBufferPointer { memcmp($0.baseAddress!, name, Key.nameLength) == 0 } }
        if same(current) { return (.current, current) }
        if let previous, same(previous) { return (.previous, previous) }
        return nil
    }

    // MARK: BoringSSL's ticket callback

    /// Sealing (`encrypt` = 1): writes the current key's name and a fresh IV, keys the
    /// cipher and the HMAC; returns 1. Opening: keys them from the named key and returns
    /// 1 for the current key, 2 for the previous one (BoringSSL then issues a new ticket
    /// under the current key), 0 for a key no longer held (a full handshake follows).
    func ticketCallback(
        name: UnsafeMutablePointer<UInt8>, iv: UnsafeMutablePointer<UInt8>,
        cipher: UnsafeMutablePointer<EVP_CIPHER_CTX>, hmac: UnsafeMutablePointer<HMAC_CTX>, encrypt: Bool
    ) -> Int32 {
        lock.withLock {
            if encrypt {
                let key = current
                key.name.withUnsafeBufferPointer { name.update(from: $0.baseAddress!, count: Key.nameLength) }
                guard RAND_bytes(iv, 16) == 1,
                    key.aesKey.withUnsafeBufferPointer({ EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nil, $0.baseAddress, iv) }) == 1,
                    key.hmacKey.withUnsafeBufferPointer({ HMAC_Init_ex(hmac, $0.baseAddress, 32, EVP_sha256(), nil) }) == 1
                else { return -1 }
                return 1
            }
            guard let (match, key) = matchLocked(UnsafePointer(name)) else { return 0 }
            guard key.aesKey.withUnsafeBufferPointer({ EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nil, $0.baseAddress, iv) }) == 1,
                key.hmacKey.withUnsafeBufferPointer({ HMAC_Init_ex(hmac, $0.baseAddress, 32, EVP_sha256(), nil) }) == 1
            else { return -1 }
            return match == .current ? 1 : 2
        }
    }
}

extension Duration {
    /// The span in seconds, for figures shown to operators.
    package var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
