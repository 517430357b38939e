/// Extension types this parser reads (IANA TLS ExtensionType registry).
enum ExtensionType {
    static let serverName = 0          // RFC 6066 §3
    static let alpn = 16               // RFC 7301 §3.1
    static let sessionTicket = 35      // RFC 5077 §3.2
    static let preSharedKey = 41       // RFC 8446 §4.2.11
    static let supportedVersions = 43  // RFC 8446 §4.2.1
}

/// Checks a ClientHello body (after the 4-byte handshake header) against RFC 8446 §4.1.2:
///
///     struct {
///         ProtocolVersion legacy_version = 0x0303;
///         Random random;                                  // 32 bytes
///         opaque legacy_session_id<0..32>;
///         CipherSuite cipher_suites<2..2^16-2>;
///         opaque legacy_compression_methods<1..2^8-1>;
///         Extension extensions<8..2^16-1>;                // absent in some TLS 1.2 hellos
///     } ClientHello;
func parseBody(_ body: UnsafeRawBufferPointer, byteCount: Int) -> Result<ClientHelloInfo, ClientHelloError> {
    var r = Reader(body)
    guard let legacyVersion = r.u16(), r.skip(32) else { return .failure(.truncated) }
    guard let sessionIDLength = r.u8(), sessionIDLength <= 32, r.skip(sessionIDLength) else {
        return .failure(.truncated)
    }
    guard let suitesLength = r.u16(), suitesLength >= 2, suitesLength % 2 == 0,
          var suites = r.sub(suitesLength) else { return .failure(.truncated) }
    var cipherSuites: [UInt16] = []
    cipherSuites.reserveCapacity(suitesLength / 2)
    while let suite = suites.u16() {
        let s = UInt16(truncatingIfNeeded: suite)
        if !isGREASE(s) { cipherSuites.append(s) }
    }
    guard let compressionLength = r.u8(), compressionLength >= 1, r.skip(compressionLength) else {
        return .failure(.truncated)
    }
    var info = ClientHelloInfo(serverName: nil, alpn: [], legacyVersion: UInt16(truncatingIfNeeded: legacyVersion),
                               supportedVersions: [], hasPreSharedKey: false, hasSessionTicket: false,
                               cipherSuites: cipherSuites, byteCount: byteCount)
    // A TLS 1.2 hello may end right after the compression methods (RFC 5246 §7.4.1.2).
    if r.remaining == 0 { return .success(info) }
    guard let extensionsLength = r.u16(), extensionsLength <= r.remaining else { return .failure(.truncated) }
    guard extensionsLength == r.remaining else { return .failure(.trailingBytes) }
    guard var extensions = r.sub(extensionsLength) else { return .failure(.truncated) }

    var seen: [UInt16] = []
    while extensions.remaining > 0 {
        guard let type = extensions.u16(), let length = extensions.u16(), var data = extensions.sub(length) else {
            return .failure(.malformedExtension)
        }
        // RFC 8446 §4.2.11: pre_shared_key MUST be the last extension.
        if info.hasPreSharedKey { return .failure(.malformedExtension) }
        let t = UInt16(truncatingIfNeeded: type)
        if seen.contains(t) { return .failure(.duplicateExtension) }
        seen.append(t)
        switch type {
        case ExtensionType.serverName:
            guard let name = parseServerName(&data) else { return .failure(.malformedServerName) }
            switch name {
            case .none: break
            case .dnsName(let host): info.serverName = host
            case .notADNSName: info.serverNameIgnored = true
            }
        case ExtensionType.alpn:
            guard let protocols = parseALPN(&data) else { return .failure(.malformedExtension) }
            info.alpn = protocols
        case ExtensionType.supportedVersions:
            guard let versions = parseSupportedVersions(&data) else { return .failure(.malformedExtension) }
            info.supportedVersions = versions
        case ExtensionType.preSharedKey:
            guard isWellFormedPreSharedKey(&data) else { return .failure(.malformedExtension) }
            info.hasPreSharedKey = true
        case ExtensionType.sessionTicket:
            info.hasSessionTicket = length > 0
        default:
            break  // Unknown and GREASE extensions are ignored (RFC 8446 §4.2, RFC 8701 §3.1).
        }
    }
    return .success(info)
}

/// RFC 6066 §3:
///
///     struct { NameType name_type; select (name_type) { case host_name: HostName; } name; } ServerName;
///     enum { host_name(0), (255) } NameType;
///     opaque HostName<1..2^16-1>;
///     struct { ServerName server_name_list<1..2^16-1> } ServerNameList;
///
/// Entries of other name types are skipped (assuming the same 2-byte-length framing, the only
/// one a future type could use without breaking every parser); more than one host_name, an
/// empty host_name, an empty list or trailing garbage is invalid (nil).
func parseServerName(_ data: inout Reader) -> ServerNameEntry? {
    guard let listLength = data.u16(), listLength > 0, listLength == data.remaining else { return nil }
    var entry = ServerNameEntry.none
    var sawHostName = false
    while data.remaining > 0 {
        guard let nameType = data.u8(), let nameLength = data.u16(), let name = data.sub(nameLength) else {
            return nil
        }
        guard nameType == 0 else { continue }
        guard !sawHostName, nameLength > 0 else { return nil }
        sawHostName = true
        entry = validHostName(name.bytes).map(ServerNameEntry.dnsName) ?? .notADNSName
    }
    return entry
}

/// What a well-framed `server_name` extension holds.
enum ServerNameEntry {
    /// Only entries of other name types.
    case none
    /// A DNS name, lowercased.
    case dnsName(String)
    /// A host_name that is not a DNS name (see ``ClientHelloInfo/serverNameIgnored``).
    case notADNSName
}

/// A host_name is a DNS name "represented as a byte string using ASCII encoding without a
/// trailing dot" and literal IPv4 and IPv6 addresses are not permitted (RFC 6066 §3): 1–255
/// bytes of LDH labels (letters, digits, hyphens; 1–63 bytes, no hyphen at either end)
/// separated by single dots, whose last label is not all digits (which rules out IPv4
/// literals; IPv6 literals fail on ':'). Returns the lowercased name.
func validHostName(_ name: UnsafeRawBufferPointer) -> String? {
    guard name.count >= 1, name.count <= 255 else { return nil }
    var labelLength = 0
    var labelAllDigits = true
    var previous: UInt8 = 0
    for byte in name {
        switch byte {
        case UInt8(ascii: "."):
            guard labelLength > 0, previous != UInt8(ascii: "-") else { return nil }
            labelLength = 0
            labelAllDigits = true
        case UInt8(ascii: "-"):
            guard labelLength > 0 else { return nil }
            labelLength += 1
            labelAllDigits = false
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            labelLength += 1
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            labelLength += 1
            labelAllDigits = false
        default:
            return nil
        }
        guard labelLength <= 63 else { return nil }
        previous = byte
    }
    guard labelLength > 0, previous != UInt8(ascii: "-"), !labelAllDigits else { return nil }
    return String(unsafeUninitializedCapacity: name.count) { out in
        for (i, byte) in name.enumerated() {
            out[i] = (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte | 0x20 : byte
        }
        return name.count
    }
}

/// RFC 7301 §3.1: `ProtocolName protocol_name_list<2..2^16-1>`, `opaque ProtocolName<1..2^8-1>`.
/// GREASE identifiers (RFC 8701 §2: the two-byte names 0x0A0A … 0xFAFA) are dropped.
func parseALPN(_ data: inout Reader) -> [String]? {
    guard let listLength = data.u16(), listLength >= 2, listLength == data.remaining else { return nil }
    var protocols: [String] = []
    while data.remaining > 0 {
        guard let length = data.u8(), length >= 1, let name = data.sub(length) else { return nil }
        let bytes = name.bytes
        if length == 2, isGREASE(UInt16(bytes[0]) << 8 | UInt16(bytes[1])) { continue }
        protocols.append(String(decoding: bytes, as: UTF8.self))
    }
    return protocols
}

/// RFC 8446 §4.2.1: `ProtocolVersion versions<2..254>` in a ClientHello; GREASE dropped.
func parseSupportedVersions(_ data: inout Reader) -> [UInt16]? {
    guard let length = data.u8(), length >= 2, length % 2 == 0, length == data.remaining else { return nil }
    var versions: [UInt16] = []
    versions.reserveCapacity(length / 2)
    while let v = data.u16() {
        let version = UInt16(truncatingIfNeeded: v)
        if !isGREASE(version) { versions.append(version) }
    }
    return versions
}

/// RFC 8446 §4.2.11: `PskIdentity identities<7..2^16-1>; PskBinderEntry binders<33..2^16-1>;`
/// Only the framing is checked; the proxy does not resume sessions itself.
func isWellFormedPreSharedKey(_ data: inout Reader) -> Bool {
    guard let identitiesLength = data.u16(), identitiesLength >= 7, data.skip(identitiesLength),
          let bindersLength = data.u16(), bindersLength >= 33, data.skip(bindersLength) else { return false }
    return data.remaining == 0
}
