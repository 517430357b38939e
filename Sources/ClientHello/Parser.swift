/// Parses a TLS ClientHello incrementally from the bytes a connection has received so far.
///
/// The caller keeps every byte it receives (to replay them unchanged to whichever backend the
/// decision picks) and passes all of them, from the first, on each call; the parser remembers
/// how far it got, so each byte is looked at once and nothing is allocated per byte. Once the
/// result is `.complete` or `.invalid` it no longer changes. Passing fewer bytes than before
/// starts over.
///
/// Records (RFC 8446 §5.1): only content type 22 (handshake) may come before the ClientHello
/// is complete, with legacy_record_version 0x0301–0x0303 and a length of 1…2^14 + 2048. The
/// handshake message (RFC 8446 §4) may be fragmented across any number of records and the
/// records split at any byte; the first message must be a client_hello (type 1), and its
/// body is checked strictly against RFC 8446 §4.1.2 and §4.2.
public struct ClientHelloParser: Sendable {
    /// The largest record length accepted: 2^14 of plaintext plus the 2048 bytes of expansion
    /// RFC 8446 §5.2 allows ciphertext, which is as lenient as any record may be.
    static let maxRecordLength = (1 << 14) + 2048

    public let limits: ClientHelloLimits

    private var done: ClientHelloResult?
    /// Input offset of the next byte not yet examined.
    private var position = 0
    /// Payload bytes of the current record not yet examined; 0 between records.
    private var recordRemaining = 0
    /// Records whose headers have been read.
    private var records = 0
    /// Handshake bytes (across records) examined so far.
    private var handshakeSeen = 0
    /// The 3-byte handshake length as it accumulates.
    private var handshakeLength = 0
    /// 4 + the handshake length once its header is complete.
    private var handshakeTotal: Int?

    public init(limits: ClientHelloLimits = .init()) {
        self.limits = limits
    }

    /// Examines the bytes received so far (always from the connection's first byte).
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> ClientHelloResult {
        if bytes.count < position {
            self = ClientHelloParser(limits: limits)
        }
        if let done { return done }
        let result = advance(bytes)
        if result != .needMore { done = result }
        return result
    }

    private mutating func advance(_ b: UnsafeRawBufferPointer) -> ClientHelloResult {
        let n = b.count
        while true {
            if let total = handshakeTotal, handshakeSeen >= total {
                return finish(b, total: total)
            }
            if recordRemaining == 0 {
                // A record header: judge each byte as soon as it is here.
                let available = n - position
                if available >= 1 {
                    let type = b[position]
                    if type != 22 { return .invalid(records == 0 ? .notTLS : .unexpectedContentType) }
                }
                if available >= 2, b[position + 1] != 3 { return .invalid(.notTLS) }
                if available >= 3, !(1...3).contains(b[position + 2]) { return .invalid(.notTLS) }
                guard available >= 5 else { return .needMore }
                let length = Int(b[position + 3]) << 8 | Int(b[position + 4])
                guard length > 0, length <= Self.maxRecordLength else { return .invalid(.recordOverflow) }
                position += 5
                recordRemaining = length
                records += 1
            }
            let available = min(recordRemaining, n - position)
            guard available > 0 else { return .needMore }
            var take = available
            if let total = handshakeTotal { take = min(take, total - handshakeSeen) }
            var i = 0
            while handshakeSeen < 4 && i < take {
                let byte = b[position + i]
                if handshakeSeen == 0 {
                    if byte != 1 { return .invalid(.notClientHello) }
                } else {
                    handshakeLength = handshakeLength << 8 | Int(byte)
                }
                handshakeSeen += 1
                i += 1
                if handshakeSeen == 4 {
                    let total = 4 + handshakeLength
                    if total > limits.maxBytes { return .invalid(.tooLarge) }
                    handshakeTotal = total
                    take = min(take, i + handshakeLength)
                }
            }
            let rest = take - i
            handshakeSeen += rest
            position += take
            recordRemaining -= take
        }
    }

    /// The whole ClientHello has arrived and ends at `position`: reassemble it if it spans
    /// records, then check its body.
    private func finish(_ b: UnsafeRawBufferPointer, total: Int) -> ClientHelloResult {
        let byteCount = position
        let parsed: Result<ClientHelloInfo, ClientHelloError>
        if records == 1 {
            parsed = parseBody(UnsafeRawBufferPointer(rebasing: b[(5 + 4)..<(5 + total)]), byteCount: byteCount)
        } else {
            var message: [UInt8] = []
            message.reserveCapacity(total)
            var p = 0
            while message.count < total, p + 5 <= byteCount {
                let length = Int(b[p + 3]) << 8 | Int(b[p + 4])
                p += 5
                let take = min(length, total - message.count, byteCount - p)
                message.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[p..<(p + take)]))
                p += length
            }
            guard message.count == total else { return .invalid(.truncated) }
            parsed = message.withUnsafeBytes { all in
                parseBody(UnsafeRawBufferPointer(rebasing: all[4...]), byteCount: byteCount)
            }
        }
        switch parsed {
        case .success(let info): return .complete(info)
        case .failure(let error): return .invalid(error)
        }
    }
}

/// A bounds-checked cursor: every read returns nil instead of reading past `end`.
struct Reader {
    let buffer: UnsafeRawBufferPointer
    var index: Int
    let end: Int

    init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        self.index = 0
        self.end = buffer.count
    }

    private init(_ buffer: UnsafeRawBufferPointer, index: Int, end: Int) {
        self.buffer = buffer
        self.index = index
        self.end = end
    }

    var remaining: Int { end - index }

    mutating func u8() -> Int? {
        guard remaining >= 1 else { return nil }
        defer { index += 1 }
        return Int(buffer[index])
    }

    mutating func u16() -> Int? {
        guard remaining >= 2 else { return nil }
        defer { index += 2 }
        return Int(buffer[index]) << 8 | Int(buffer[index + 1])
    }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, remaining >= count else { return false }
        index += count
        return true
    }

    /// The next `count` bytes as their own reader, skipping them here.
    mutating func sub(_ count: Int) -> Reader? {
        guard count >= 0, remaining >= count else { return nil }
        defer { index += count }
        return Reader(buffer, index: index, end: index + count)
    }

    /// The bytes between the cursor and the end.
    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[index..<end])
    }
}
