import Admin
import Affinity
import CEdgesplitBPF
import Crypto
import EdgeTLS
import HTTP1
import NIOCore
import NIOSSL
import Publishing

/// A validated configuration compiled for serving: the rule table, TLS contexts built from
/// the certificate files, and farm members resolved to socket addresses. Immutable and
/// shared by every worker; a reload builds a new one.
public final class RuntimeConfiguration: Sendable {
    public let config: EdgesplitConfig
    public let rules: RuleTable
    /// By listener index; nil for plain-HTTP listeners.
    public let listenerCertificates: [ListenerCertificates?]
    /// By farm index; nil for plain-HTTP farms.
    public let memberTLS: [MemberTLSContext?]
    /// By farm index, then member index; nil when the name did not resolve at start.
    public let memberAddresses: [[SocketAddress?]]
    public let headLimits: HeadLimits
    /// Each rule's timeouts as NIO amounts, by rule index: converted once, not per request.
    package let ruleTimeouts: [RuleTimeAmounts]
    /// `timeouts.request_head` as a NIO amount.
    package let requestHeadTimeout: TimeAmount
    /// Problems that do not stop serving (member names that do not resolve), at the
    /// configuration entry they come from. `verify: false` is the loader's warning already.
    public let warnings: [ConfigDiagnostic]
    /// SHA-256 (hex) of the configuration text this was loaded from; nil when it was built
    /// without one (tests). Edge hosts of one farm run the same file, so `edgesplit stats`
    /// shows them the same digest (see `MergedStats`).
    public let digest: String?
    /// The dashboard's credentials, read from their files; nil without `admin.dashboard`.
    package let dashboardAccess: DashboardAccess?

    /// `source` is the configuration text `config` was read from, for `digest`.
    public init(config: EdgesplitConfig, readFile: (String) throws -> [UInt8], source: String? = nil) throws {
        var tlsErrors: [SetupError] = []
        var warnings: [ConfigDiagnostic] = []
        var certificates: [ListenerCertificates?] = []
        for listener in config.listeners {
            guard let tls = listener.tls else {
                certificates.append(nil)
                continue
            }
            do {
                let built = try ListenerCertificates(
                    listener: listener, tls: tls, settings: config.tls, http2: config.http2.enabled, readFile: readFile,
                    readOCSPFile: { try FileBytes.read($0) },
                    handshakeDone: { resumed in es_tls_set_last_resumed(resumed ? 1 : 0) }  // for ClientHandler's count
                )
                for entry in built.entries {
                    if case .rejected(let reason) = entry.hooks.staple {
                        warnings.append(.warning(
                            "ocsp: \(reason); this certificate is served without an OCSP staple until the file is fixed",
                            at: entry.source.position
                        ))
                    }
                }
                certificates.append(built)
            } catch let error as SetupError {
                tlsErrors.append(error)
                certificates.append(nil)
            }
        }
        var memberTLS: [MemberTLSContext?] = []
        var addresses: [[SocketAddress?]] = []
        for farm in config.farms {
            if let tls = farm.tls {
                do {
                    memberTLS.append(try MemberTLSContext(farm: farm, tls: tls, readFile: readFile))
                } catch let error as SetupError {
                    tlsErrors.append(error)
                    memberTLS.append(nil)
                }
            } else {
                memberTLS.append(nil)
            }
            addresses.append(
                farm.members.map { member in
                    do {
                        return try SocketAddress.makeAddressResolvingHost(member.host, port: member.port)
                    } catch {
                        warnings.append(.warning(
                            "farm '\(farm.name)': member '\(member.text)' does not resolve (\(error)); it is unavailable",
                            at: member.position
                        ))
                        return nil
                    }
                }
            )
        }
        var dashboardAccess: DashboardAccess?
        if let dashboard = config.admin.dashboard {
            do {
                dashboardAccess = try DashboardAccess(settings: dashboard, readFile: readFile)
            } catch let error as SetupError {
                tlsErrors.append(error)
            }
        }
        if !tlsErrors.isEmpty { throw SetupErrors(errors: tlsErrors) }
        self.dashboardAccess = dashboardAccess
        self.config = config
        self.rules = RuleTable(config: config)
        self.listenerCertificates = certificates
        self.memberTLS = memberTLS
        self.memberAddresses = addresses
        self.headLimits = HeadLimits(
            maxRequestLine: Int(config.http.maxRequestLine),
            maxHeaderBytes: Int(config.http.maxHeaderBytes)
        )
        self.warnings = warnings
        self.digest = source.map(Self.digest(of:))
        self.ruleTimeouts = config.rules.map { RuleTimeAmounts($0.timeouts) }
        self.requestHeadTimeout = config.timeouts.requestHead.timeAmount
    }
}

extension RuntimeConfiguration {
    /// SHA-256 of the configuration text as bytes, in lowercase hex: comments and spacing
    /// count, so hosts that show the same digest run the same file.
    public static func digest(of text: String) -> String {
        let digits = Array("0123456789abcdef")
        return String(SHA256.hash(data: Array(text.utf8)).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
    }
}

/// A rule's timeouts as NIO amounts.
package struct RuleTimeAmounts {
    package let connect: TimeAmount
    package let response: TimeAmount
    package let idle: TimeAmount

    package init(_ timeouts: RuleTimeouts) {
        connect = timeouts.connect.timeAmount
        response = timeouts.response.timeAmount
        idle = timeouts.idle.timeAmount
    }
}

/// Every TLS problem of a configuration at once, so `check` lists them all.
public struct SetupErrors: Error, CustomStringConvertible, Sendable {
    public let errors: [SetupError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

extension AffinitySettings {
    /// The prefixes as the steering code takes them (validated by the loader).
    package var mask: AffinityMask {
        AffinityMask(ipv4Prefix: ipv4Prefix, ipv6Prefix: ipv6Prefix) ?? .host
    }
}
