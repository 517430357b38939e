import Foundation

/// The demo's imitation of IIS Windows authentication (NTLM) on one connection.
///
/// NTLM authenticates the *connection*, not the request: type 1 (negotiate) → 401 with a type 2
/// challenge → type 3 (authenticate) on the **same** TCP connection → 200, and IIS then treats
/// the connection as authenticated. A reverse proxy that spreads one client's requests over
/// several backend connections, or shares one backend connection between clients, breaks this;
/// the demo makes that visible without any real credentials (lync-publishing.md §3, `/abs/handler`
/// answers browsers with a 401 challenge).
enum NTLMHandshake: Sendable, Equatable {
    /// No NTLM message seen on this connection yet.
    case idle
    /// A type 2 challenge was sent; the next `Authorization: NTLM …` completes the handshake.
    case challenged
    /// The handshake completed; this connection is authenticated.
    case authenticated

    /// A fake NTLM type 2 (CHALLENGE_MESSAGE, MS-NLMP §2.2.1.2), base64 as it appears after
    /// `WWW-Authenticate: NTLM `. Structurally valid (signature, type, target name `CONTOSO`,
    /// flags, a fixed 8-byte server challenge) so tools that decode it do not choke, but it
    /// authenticates nothing.
    static let challengeToken: String = {
        let target = Array("CONTOSO".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let headerLength = 56
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        var bytes: [UInt8] = Array("NTLMSSP".utf8) + [0]
        bytes += le32(2)  // MessageType: CHALLENGE_MESSAGE
        bytes += le16(target.count) + le16(target.count) + le32(UInt32(headerLength))  // TargetNameFields
        bytes += le32(0x6289_8215)  // NegotiateFlags: UNICODE, NTLM, TARGET_TYPE_DOMAIN, TARGET_INFO, VERSION, 128, 56
        bytes += [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]  // ServerChallenge
        bytes += [UInt8](repeating: 0, count: 8)  // Reserved
        bytes += le16(0) + le16(0) + le32(UInt32(headerLength + target.count))  // TargetInfoFields (empty)
        bytes += [6, 3, 0x80, 0x25, 0, 0, 0, 15]  // Version: 6.3 build 9600 (Windows Server 2012 R2), NTLMSSP rev 15
        bytes += target
        return Data(bytes).base64EncodedString()
    }()
}
