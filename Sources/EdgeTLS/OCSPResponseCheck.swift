import Foundation
import SwiftASN1

/// What edgesplit checks of an OCSP response file before stapling it: that it is a DER
/// `OCSPResponse` (RFC 6960 §4.2.1) whose responder answered `successful` with a basic
/// response, that one of its single responses is about this certificate's serial number
/// and says `good`, and that it has not passed its `nextUpdate`. A staple that fails any of
/// these would make careful clients refuse the connection, so none is sent instead.
///
/// The responder's signature is the client's to verify (it trusts the CA, edgesplit only
/// carries the bytes); a response for another certificate of the same serial from another
/// CA is not caught here.
enum OCSPResponseCheck {
    struct Accepted: Sendable, Equatable {
        let thisUpdate: Date
        let nextUpdate: Date?
    }

    struct Rejected: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static let basicResponseType: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 48, 1, 1]
    static let statusNames = [
        0: "successful", 1: "malformedRequest", 2: "internalError", 3: "tryLater", 5: "sigRequired", 6: "unauthorized",
    ]

    static func check(_ der: [UInt8], serialNumber: ArraySlice<UInt8>, now: Date) throws -> Accepted {
        let response: ASN1Node
        do {
            response = try DER.parse(der)
        } catch {
            throw Rejected("not a DER OCSP response (\(error))")
        }
        do {
            return try accept(response, serialNumber: serialNumber, now: now)
        } catch let rejected as Rejected {
            throw rejected
        } catch {
            throw Rejected("not a DER OCSP response (\(error))")
        }
    }

    private static func accept(_ response: ASN1Node, serialNumber: ArraySlice<UInt8>, now: Date) throws -> Accepted {
        // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
        let top = try children(response, .sequence)
        guard let statusNode = top.first, statusNode.identifier == .enumerated, case .primitive(let status) = statusNode.content
        else { throw Rejected("not a DER OCSP response (no responseStatus)") }
        let code = status.count == 1 ? Int(status.first!) : -1
        guard code == 0 else {
            throw Rejected("the responder answered '\(statusNames[code] ?? "status \(code)")', not 'successful'")
        }
        guard top.count == 2, top[1].identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific),
            let responseBytes = try children(top[1]).first
        else { throw Rejected("a successful OCSP response without responseBytes") }
        // ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
        let bytes = try children(responseBytes, .sequence)
        guard bytes.count == 2, try ASN1ObjectIdentifier(derEncoded: bytes[0]) == basicResponseType,
            bytes[1].identifier == .octetString, case .primitive(let basicDER) = bytes[1].content
        else { throw Rejected("not a basic OCSP response (id-pkix-ocsp-basic)") }
        // BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm, signature, certs OPTIONAL }
        let basic = try children(try DER.parse(basicDER), .sequence)
        guard let data = basic.first else { throw Rejected("an empty basic OCSP response") }
        // ResponseData ::= SEQUENCE { version [0] OPTIONAL, responderID, producedAt, responses SEQUENCE OF SingleResponse, … }
        let fields = try children(data, .sequence)
        guard let responses = fields.first(where: { $0.identifier == .sequence }) else {
            throw Rejected("an OCSP response without single responses")
        }
        let wanted = trimmed(serialNumber)
        for single in try children(responses, .sequence) {
            // SingleResponse ::= SEQUENCE { certID, certStatus, thisUpdate, nextUpdate [0] EXPLICIT OPTIONAL, … }
            let parts = try children(single, .sequence)
            guard parts.count >= 3 else { continue }
            // CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber INTEGER }
            let certID = try children(parts[0], .sequence)
            guard certID.count == 4, certID[3].identifier == .integer, case .primitive(let serial) = certID[3].content,
                trimmed(serial) == wanted
            else { continue }
            switch parts[1].identifier.tagNumber {
            case 0: break
            case 1: throw Rejected("the response says this certificate is revoked")
            default: throw Rejected("the response says this certificate's status is unknown")
            }
            let thisUpdate = date(try GeneralizedTime(derEncoded: parts[2]))
            var nextUpdate: Date?
            if parts.count > 3, parts[3].identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific),
                let inner = try children(parts[3]).first
            {
                nextUpdate = date(try GeneralizedTime(derEncoded: inner))
            }
            if let nextUpdate, nextUpdate < now {
                throw Rejected("the response expired at \(nextUpdate) (its nextUpdate); fetch a fresh one")
            }
            return Accepted(thisUpdate: thisUpdate, nextUpdate: nextUpdate)
        }
        throw Rejected("the response is not about this certificate (serial \(wanted.map { String(format: "%02X", $0) }.joined()))")
    }

    private static func children(_ node: ASN1Node, _ identifier: ASN1Identifier? = nil) throws -> [ASN1Node] {
        guard identifier == nil || node.identifier == identifier, case .constructed(let nodes) = node.content else {
            throw Rejected("not a DER OCSP response (unexpected \(node.identifier))")
        }
        return Array(nodes)
    }

    private static func trimmed(_ integer: ArraySlice<UInt8>) -> [UInt8] {
        Array(integer.drop { $0 == 0 })
    }

    private static func date(_ time: GeneralizedTime) -> Date {
        var components = DateComponents()
        components.timeZone = TimeZone(identifier: "UTC")
        (components.year, components.month, components.day) = (time.year, time.month, time.day)
        (components.hour, components.minute, components.second) = (time.hours, time.minutes, time.seconds)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components) ?? .distantPast
    }
}
