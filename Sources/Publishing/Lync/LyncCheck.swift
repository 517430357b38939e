import Affinity

/// The Lync-aware part of `edgesplit check`: findings about a configuration that publishes
/// Lync Server / Skype for Business web services, each naming the rule, the reason and the
/// symptom users would see (lync-publishing.md §7). Pure: the certificate facts are handed in.
///
/// A configuration counts as a Lync publication when a rule names `lyncdiscover.*`,
/// `lyncdiscoverinternal.*`, `meet.*` or `dialin.*`, or a farm re-encrypts to a member on 4443
/// (the Front End's external web site). Otherwise `findings` is empty: a plain-HTTP farm on
/// 4443 or 8080 alone is not taken for Lync.
///
/// Severity: **error** when users certainly fail or the Lync documentation forbids it (a name
/// not on the certificate, Host not forwarded, 443/80 instead of 4443/8080, plain HTTP to 4443,
/// a shadowed lyncdiscover rule, internal names published, several members without
/// persistence); **warning** when it depends on clients or on a guess (subject not in the SANs,
/// wildcard subject, short timeouts, a Director-looking farm not published, lyncdiscover in two
/// rules, small header or upload limits).
public struct LyncCheck: Sendable {
    public let config: EdgesplitConfig
    public let certificates: [ListenerCertificateFacts]

    /// The Front End's external web site ports (HTTPS, HTTP).
    public static let externalPorts: Set<Int> = [4443, 8080]
    static let lyncPrefixes = ["lyncdiscover.", "lyncdiscoverinternal.", "meet.", "dialin."]
    static let simplePrefixes = ["lyncdiscover.", "meet.", "dialin."]
    public static let minimumResponseTimeout = Duration.seconds(960)
    public static let minimumIdleTimeout = Duration.seconds(1800)
    public static let minimumHeaderBytes = 64 * 1024
    public static let minimumUploadBytes: UInt64 = 30_000_000

    public init(config: EdgesplitConfig, certificates: [ListenerCertificateFacts] = []) {
        self.config = config
        self.certificates = certificates
    }

    static func isLyncName(_ name: String) -> Bool { lyncPrefixes.contains { name.hasPrefix($0) } }

    /// Whether the configuration looks like a Lync publication (see the type's comment).
    public var looksLikeLync: Bool {
        config.rules.contains { $0.publicNames.contains { $0.kind == .exact && Self.isLyncName($0.text) } }
            || config.farms.contains { $0.tls != nil && $0.members.contains { $0.port == 4443 } }
    }

    /// SIP domains named by `lyncdiscover.`, `meet.` and `dialin.` public names.
    public var sipDomains: [String] {
        var result: [String] = []
        for rule in config.rules {
            for name in rule.publicNames where name.kind == .exact {
                for prefix in Self.lyncPrefixes where name.text.hasPrefix(prefix) {
                    let domain = String(name.text.dropFirst(prefix.count))
                    if !result.contains(domain) { result.append(domain) }
                }
            }
        }
        return result
    }

    /// Farms that serve Lync: used by a rule with a Lync name, or with a member on 4443/8080.
    public var lyncFarms: Set<String> {
        var farms = Set(config.farms.filter { $0.members.contains { Self.externalPorts.contains($0.port) } }.map(\.name))
        for rule in config.rules where rule.action == .allow {
            if let farm = rule.farm, rule.publicNames.contains(where: { $0.kind == .exact && Self.isLyncName($0.text) }) {
                farms.insert(farm)
            }
        }
        return farms
    }

    /// Every finding, in file order; empty when the configuration does not look like Lync.
    public var findings: [LyncFinding] {
        guard looksLikeLync else { return [] }
        var result: [LyncFinding] = []
        certificateFindings(&result)
        ruleFindings(&result)
        farmFindings(&result)
        lyncdiscoverFindings(&result)
        internalNameFindings(&result)
        if config.http.maxHeaderBytes < Self.minimumHeaderBytes {
            result.append(
                LyncFinding(
                    .warning, .smallHeaderLimit, at: SourcePosition(file: config.file, line: 1, column: 1), subject: "http.max_header_bytes",
                    reason: "\(config.http.maxHeaderBytes) bytes is less than 64 KiB; Lync sends multi-KB Authorization and X-MS-WebTicket headers",
                    symptom: "sign-in and web ticket requests rejected with 431"
                ))
        }
        return result.enumerated().sorted { ($0.element.position, $0.offset) < ($1.element.position, $1.offset) }.map(\.element)
    }

    private func listenerIndexes(of rule: PublishingRule) -> [Int] {
        config.listeners.indices.filter { rule.listeners?.contains(config.listeners[$0].name) ?? true }
    }

    private func certificateFindings(_ result: inout [LyncFinding]) {
        for fact in certificates {
            let listener = config.listeners.indices.contains(fact.listenerIndex) ? config.listeners[fact.listenerIndex].name : "?"
            guard let cn = fact.commonName else { continue }
            if cn.hasPrefix("*.") {
                result.append(
                    LyncFinding(
                        .warning, .wildcardSubject, at: fact.position, subject: "listener '\(listener)'",
                        reason: "the certificate's subject is the wildcard '\(cn)'; Lync supports wildcards only as SANs, never as the subject",
                        symptom: "desk phones and some Lync clients fail to connect or sign in"
                    ))
            } else if !fact.names.contains(cn) {
                result.append(
                    LyncFinding(
                        .warning, .subjectNotInSANs, at: fact.position, subject: "listener '\(listener)'",
                        reason: "the certificate's subject name '\(cn)' is not among its SANs (\(fact.names.joined(separator: ", "))); Lync requires it in the SANs too",
                        symptom: "clients that check the subject name (older Lync clients, phones) refuse the connection"
                    ))
            }
        }
        for rule in config.rules where rule.action == .allow {
            for index in listenerIndexes(of: rule) where config.listeners[index].tls != nil {
                let facts = certificates.filter { $0.listenerIndex == index }
                guard !facts.isEmpty else { continue }
                for name in rule.publicNames where name.kind == .exact && !facts.contains(where: { $0.covers(name.text) }) {
                    let sans = facts.flatMap(\.names).joined(separator: ", ")
                    let symptom = name.text.hasPrefix("lyncdiscover.")
                        ? "mobile clients get a server hello without a matching certificate and drop the session: sign-in fails; browsers warn"
                        : "browsers show a certificate warning and Lync clients refuse to connect to https://\(name.text)"
                    result.append(
                        LyncFinding(
                            .error, .nameNotOnCertificate, at: rule.position, subject: "rule '\(rule.name)'",
                            reason: "public name '\(name.text)' on listener '\(config.listeners[index].name)' is not covered by its certificate (SANs: \(sans))",
                            symptom: symptom
                        ))
                }
            }
        }
    }

    private func ruleFindings(_ result: inout [LyncFinding]) {
        let farms = lyncFarms
        for rule in config.rules where rule.action == .allow {
            guard let farm = rule.farm, farms.contains(farm) else { continue }
            let subject = "rule '\(rule.name)'"
            if !rule.forwardOriginalHost {
                let simple = rule.publicNames.contains { n in Self.simplePrefixes.contains { n.text.hasPrefix($0) } }
                result.append(
                    LyncFinding(
                        .error, .hostNotForwarded, at: rule.position, subject: subject,
                        reason: "forward_original_host is false; Lync's external web services route by the Host the client sent",
                        symptom: simple
                            ? "meet and dial-in simple URLs and autodiscover show the wrong page or fail (only webext paths work)"
                            : "Lync web services answer for the wrong site: links, simple URLs and mobility fail"
                    ))
            }
            if rule.timeouts.response < Self.minimumResponseTimeout || rule.timeouts.idle < Self.minimumIdleTimeout {
                result.append(
                    LyncFinding(
                        .warning, .shortTimeout, at: rule.position, subject: subject,
                        reason: "timeouts response \(seconds(rule.timeouts.response)) / idle \(seconds(rule.timeouts.idle)) are under 960s / 1800s",
                        symptom: "mobile clients and Lync Web App lose their long polls (push notifications, UCWA events): disconnects and sign-outs"
                    ))
            }
            if let limit = rule.maxBody, limit < Self.minimumUploadBytes,
                rule.paths.contains(where: { $0.matches(Array("/DataCollabWeb/Ext/Handler".utf8)) })
            {
                result.append(
                    LyncFinding(
                        .warning, .smallUploadLimit, at: rule.position, subject: subject,
                        reason: "max_body \(limit) bytes covers /DataCollabWeb/; Lync Web App uploads need 30 MB (up to 500 MB)",
                        symptom: "uploading content in Lync Web App meetings fails with 413"
                    ))
            }
        }
    }

    private func farmFindings(_ result: inout [LyncFinding]) {
        let farms = lyncFarms
        for farm in config.farms {
            let subject = "farm '\(farm.name)'"
            if farms.contains(farm.name) {
                for member in farm.members {
                    if (farm.tls != nil && member.port == 443) || (farm.tls == nil && member.port == 80) {
                        let expected = farm.tls != nil ? 4443 : 8080
                        result.append(
                            LyncFinding(
                                .error, .internalSitePort, at: member.position, subject: subject,
                                reason: "member '\(member.text)' is the Front End's internal web site; its external web services listen on \(expected)",
                                symptom: "requests reach the internal site: internal authentication and behaviour, external features (mobility, simple URLs, web app) fail"
                            ))
                    }
                }
                if farm.members.count > 1, farm.persistence == .none {
                    result.append(
                        LyncFinding(
                            .error, .noPersistence, at: farm.position, subject: subject,
                            reason: "\(farm.members.count) members and persistence none: requests of one client spread over Front Ends",
                            symptom: "mobile sign-in ping-pongs between Front Ends and fails; 'Join meeting' errors"
                        ))
                }
            }
            for member in farm.members {
                if farm.tls == nil, member.port == 4443 {
                    result.append(
                        LyncFinding(
                            .error, .plainHTTPToTLSPort, at: member.position, subject: subject,
                            reason: "plain HTTP to '\(member.text)': 4443 speaks TLS only, and Lync does not support SSL offloading (add tls)",
                            symptom: "every request through this farm fails (502)"
                        ))
                } else if farm.tls != nil, member.port == 8080 {
                    result.append(
                        LyncFinding(
                            .error, .plainHTTPToTLSPort, at: member.position, subject: subject,
                            reason: "TLS to '\(member.text)': 8080 is the external web site's plain HTTP port (use 4443, or no tls)",
                            symptom: "every request through this farm fails (502)"
                        ))
                }
            }
            if Self.looksLikeDirector(farm), !publishedDirectorHosts.isSuperset(of: farm.members.map(\.host)) {
                let rules = config.rules.filter { $0.action == .allow && $0.farm == farm.name }
                result.append(
                    LyncFinding(
                        .warning, .directorNotPublished, at: farm.position, subject: subject,
                        reason: rules.isEmpty
                            ? "this looks like a Director and no rule publishes it"
                            : "this looks like a Director, but no rule publishes its external web services name (only \(rules.map { "'\($0.name)'" }.joined(separator: ", ")))",
                        symptom: "sign-in, web tickets and other first-hop traffic sent to the Director's external name fail"
                    ))
            }
        }
    }

    /// A farm named like a Director (`director` anywhere, or `webdir…`).
    static func looksLikeDirector(_ farm: Farm) -> Bool {
        let lower = farm.name.lowercased()
        return lower.contains("director") || lower.hasPrefix("webdir")
    }

    /// Member hosts of Director-looking farms that some allow rule publishes under a name of
    /// their own (not only simple URLs or lyncdiscover): a second farm of the same servers
    /// (the 8080 one for HTTP autodiscover) is then not an unpublished Director.
    var publishedDirectorHosts: Set<String> {
        var hosts: Set<String> = []
        for farm in config.farms where Self.looksLikeDirector(farm) {
            let names = config.rules.filter { $0.action == .allow && $0.farm == farm.name }.flatMap(\.publicNames)
            if names.contains(where: { !Self.isLyncName($0.text) }) { hosts.formUnion(farm.members.map(\.host)) }
        }
        return hosts
    }

    private func lyncdiscoverFindings(_ result: inout [LyncFinding]) {
        let table = RuleTable(config: config)
        let anyClient = ClientAddress("0.0.0.0")!
        for (index, listener) in config.listeners.enumerated() {
            var names: [String] = []
            for rule in config.rules {
                for n in rule.publicNames where n.kind == .exact && n.text.hasPrefix("lyncdiscover.") && !names.contains(n.text) {
                    names.append(n.text)
                }
            }
            for name in names {
                let listing = config.rules.indices.filter { i in
                    let rule = config.rules[i]
                    return (rule.listeners?.contains(listener.name) ?? true) && rule.publicNames.contains { $0.kind == .exact && $0.text == name }
                }
                guard let first = listing.first else { continue }
                for later in listing.dropFirst() {
                    let rule = config.rules[later]
                    result.append(
                        LyncFinding(
                            .warning, .lyncdiscoverInTwoRules, at: rule.position, subject: "rule '\(rule.name)'",
                            reason: "'\(name)' on listener '\(listener.name)' is also in rule '\(config.rules[first].name)'; it belongs in exactly one rule per listener",
                            symptom: "autodiscover for some paths may reach the wrong farm: mobile sign-in fails intermittently"
                        ))
                }
                let steps = table.explain(listener: index, host: Array(name.utf8), path: Array("/".utf8), client: anyClient)
                if let decided = steps.last, decided.outcome != .hostNotMatched, decided.outcome != .pathNotMatched,
                    decided.outcome != .listenerNotIncluded, decided.ruleIndex != first
                {
                    let rule = config.rules[first]
                    result.append(
                        LyncFinding(
                            .error, .lyncdiscoverShadowed, at: rule.position, subject: "rule '\(rule.name)'",
                            reason: "'\(name)' on listener '\(listener.name)' is taken by the earlier rule '\(decided.ruleName)'",
                            symptom: "autodiscover (\(listener.tls == nil ? "http" : "https")://\(name)/) reaches the wrong rule: mobile clients and Lync 2013 cannot sign in"
                        ))
                }
            }
        }
    }

    private func internalNameFindings(_ result: inout [LyncFinding]) {
        let table = RuleTable(config: config)
        let anyClient = ClientAddress("0.0.0.0")!
        var names: [(String, Bool)] = []  // (name, is admin)
        for domain in sipDomains {
            names.append(("lyncdiscoverinternal.\(domain)", false))
            names.append(("admin.\(domain)", true))
        }
        for rule in config.rules {
            for n in rule.publicNames where n.kind == .exact && n.text.hasPrefix("lyncdiscoverinternal.") && !names.contains(where: { $0.0 == n.text }) {
                names.append((n.text, false))
            }
        }
        var reported: Set<String> = []
        for (name, admin) in names {
            for index in config.listeners.indices {
                guard case .forward(let ruleIndex, _) = table.decide(listener: index, host: Array(name.utf8), path: Array("/".utf8), client: anyClient)
                else { continue }
                let rule = config.rules[ruleIndex]
                guard reported.insert("\(rule.name) \(name)").inserted else { continue }
                result.append(
                    LyncFinding(
                        .error, .internalNamePublished, at: rule.position, subject: "rule '\(rule.name)'",
                        reason: admin
                            ? "it publishes '\(name)', the admin simple URL, which is internal only (deny it)"
                            : "it publishes '\(name)', internal autodiscover, which must never be reachable from outside",
                        symptom: admin
                            ? "the Lync Control Panel is exposed to the Internet"
                            : "external clients get internal autodiscover answers (internal URLs) and cannot sign in"
                    ))
            }
        }
    }
}

func seconds(_ d: Duration) -> String {
    let c = d.components
    if c.attoseconds == 0 { return "\(c.seconds)s" }
    return "\(Double(c.seconds) + Double(c.attoseconds) / 1e18)s"
}
