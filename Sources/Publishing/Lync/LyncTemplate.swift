/// Renders a `LyncDeployment` as a complete, commented edgesplit configuration: the rule set
/// a TMG 2010 administrator built by hand for Lync (lync-publishing.md §1–§6), in the order
/// that makes it work.
///
/// Rules, first match wins:
/// 1. `lyncdiscover-http` (with HTTP autodiscover): `lyncdiscover.<domain>` on port 80 →
///    the first hop's members on 8080, plain HTTP; first, and the only rule on that listener
///    with those names.
/// 2. Per pool: `<pool>-datacollab` (`/DataCollabWeb/*`, 500 MB bodies for Lync Web App
///    uploads), then `<pool>` (`/*`).
/// 3. Per Director: `<director>` (`/*`).
/// 4. `simple-urls` (meet, dial-in) and `lyncdiscover` (HTTPS) → the first Director, else the
///    first pool.
/// 5. Per Office Web Apps farm: its name → members on 443.
/// 6. `block-admin`: the admin simple URL of every SIP domain, denied on every listener.
///
/// Every allow rule forwards the original Host and keeps the 960 s / 1800 s timeouts;
/// pools and Directors are re-encrypted to 4443 and verified against the internal CA.
public struct LyncTemplate: Sendable {
    public let deployment: LyncDeployment

    public init(_ deployment: LyncDeployment) {
        self.deployment = deployment
    }

    /// Farm (and rule) name of each site: the first label of its external FQDN, made unique.
    public var siteNames: [String: String] {
        var names: [String: String] = [:]
        var used: Set<String> = ["simple-urls", "lyncdiscover", "lyncdiscover-http", "block-admin"]
        let d = deployment
        for site in d.pools + d.directors + d.officeWebApps {
            let label = String(site.externalName.split(separator: ".").first ?? "site")
            var base = String(label.prefix(40))
            if base.isEmpty || !(base.first!.isLetter || base.first!.isNumber) { base = "site" + base }
            var name = base
            var n = 2
            while used.contains(name) || used.contains(name + "-http") || used.contains(name + "-datacollab") {
                name = "\(base)\(n)"
                n += 1
            }
            used.formUnion([name, name + "-http", name + "-datacollab"])
            names[site.externalName] = name
        }
        return names
    }

    /// The YAML text.
    public func render(command: String? = nil) -> String {
        let d = deployment
        let names = siteNames
        let firstHop = names[d.firstHop.externalName]!
        var out: [String] = []
        func line(_ s: String = "") { out.append(s) }
        func list(_ items: [String]) -> String { "[" + items.map(yamlScalar).joined(separator: ", ") + "]" }
        let persistence = d.lync2010 ? "cookie" : "source"
        let timeouts = "timeouts: { connect: 5s, response: 960s, idle: 1800s }"

        line("# edgesplit configuration for Lync Server / Skype for Business external web services,")
        line("# written by `edgesplit init lync`.")
        if let command { line("#   \(command)") }
        line("#")
        line("# It does what a Forefront TMG 2010 web publishing rule set for Lync did: one rule per")
        line("# external web services name with all paths (/*), the original Host header forwarded,")
        line("# 443 -> 4443 (and 80 -> 8080) bridging with re-encryption to the members, no")
        line("# authentication at the proxy (clients authenticate directly), long timeouts for mobile")
        line("# and UCWA clients. Check it with `edgesplit check --config FILE`, try a URL with")
        line("# `edgesplit test-rule --config FILE URL --probe`, then `edgesplit serve --config FILE`.")
        line("#")
        line("# SIP domains: \(d.sipDomains.joined(separator: ", "))")
        line("# The listener certificate must cover every public name (subject name also in the SANs,")
        line("# no wildcard subject):")
        for name in d.publicNames { line("#   \(name)") }
        line("# Never published here: lyncdiscoverinternal.<domain> (internal DNS only) and the admin")
        line("# simple URL (internal only; refused by the last rule).")
        line()
        line("instance: \(d.instance ?? EdgesplitConfig.defaultInstance)   # names the pinned BPF maps of this instance")
        line()
        line("# workers: 4               # event loops; default = number of CPUs")
        line()
        line("# The kernel keeps each client (/32, /128) on one worker. Give every edge host behind one")
        line("# load balancer the same seed: they then send a client to the same Front End.")
        line("affinity: { ipv4_prefix: 32, ipv6_prefix: 128, seed: 0 }")
        line()
        line("# W3C extended log, TMG/IIS field names; \"-\" = standard output.")
        line("access_log: { path: \(yamlScalar(d.accessLog)), format: w3c }")
        line()
        line("# Lync sends large Authorization and X-MS-WebTicket headers: keep at least 64 KiB.")
        line("http: { max_request_line: 16KiB, max_header_bytes: 64KiB }")
        line()
        line("# TMG's flood mitigation, per client address: 160 concurrent connections, 600 new")
        line("# connections and 600 requests a minute, 80 TLS handshakes in progress. Exempt")
        line("# networks with exceptions: [\"10.0.0.0/8\"]; see the README's Per-source limits.")
        line("limits: {}")
        line()
        line("listeners:")
        line("  # Public HTTPS: the certificate of a public CA, one SAN per public name above.")
        line("  - name: https")
        line("    address: \(yamlScalar(d.listenAddress))")
        line("    port: \(d.httpsPort)")
        line("    tls:")
        line("      certificates:")
        switch d.certificate {
        case .pem(let cert, let key):
            line("        - { cert: \(yamlScalar(cert)), key: \(yamlScalar(key)) }")
        case .pfx(let path, let passwordFile):
            if let passwordFile {
                line("        - { pfx: \(yamlScalar(path)), password_file: \(yamlScalar(passwordFile)) }")
            } else {
                line("        - { pfx: \(yamlScalar(path)) }")
            }
        }
        line("      min_version: \"1.2\"   # recent iOS Lync/Skype apps require TLS 1.2")
        if d.httpAutodiscover {
            line("  # Plain HTTP, for autodiscover only (mobile clients try http://lyncdiscover.<domain>")
            line("  # first). No redirect to HTTPS: that would defeat certificate-free HTTP autodiscover.")
            line("  - { name: http, address: \(yamlScalar(d.listenAddress)), port: \(d.httpPort) }")
        }
        line()
        line("farms:")
        func farm(_ site: LyncDeployment.Site, name: String, port: Int, tls: Bool, persistence: String, comment: [String]) {
            for c in comment { line("  # \(c)") }
            line("  - name: \(name)")
            line("    members: \(list(site.members.map { $0.text(port: port) }))")
            if tls {
                if let ca = d.internalCA {
                    line("    tls: { ca: \(yamlScalar(ca)), server_name: \(site.serverName) }")
                } else {
                    line("    # No --internal-ca given: the members are verified against the system roots.")
                    line("    tls: { server_name: \(site.serverName) }")
                }
            }
            line("    persistence: \(persistence)")
            if persistence == "cookie" {
                line("    # Keys the MS-WSMAN tokens: secret, and the same on every edge host (copy this file).")
                line("    cookie_key: \(yamlQuoted(d.cookieKey))")
            }
        }
        for pool in d.pools {
            let name = names[pool.externalName]!
            farm(
                pool, name: name, port: 4443, tls: true, persistence: persistence,
                comment: [
                    "Front End pool \(pool.externalName): its external web site on 4443, re-encrypted and verified",
                    "as \(pool.serverName) (if the Front End certificate names only the pool's internal FQDN,",
                    "put that in server_name). "
                        + (d.lync2010 ? "Lync 2010: MS-WSMAN cookie persistence." : "One client stays on one Front End."),
                ]
            )
        }
        for director in d.directors {
            let name = names[director.externalName]!
            farm(
                director, name: name, port: 4443, tls: true, persistence: persistence,
                comment: ["Director \(director.externalName): simple URLs and autodiscover arrive here first."]
            )
        }
        if d.httpAutodiscover {
            // A member's port is its HTTPS port: the HTTP farm takes the hosts only, on 8080.
            let hop = d.firstHop
            var hosts: [LyncDeployment.Member] = []
            for member in hop.members where !hosts.contains(where: { $0.host == member.host }) {
                hosts.append(LyncDeployment.Member(host: member.host))
            }
            farm(
                LyncDeployment.Site(externalName: hop.externalName, members: hosts, serverName: hop.serverName),
                name: firstHop + "-http", port: 8080, tls: false, persistence: persistence,
                comment: ["\(hop.externalName) over plain HTTP on 8080: only for HTTP autodiscover."]
            )
        }
        for owas in d.officeWebApps {
            let name = names[owas.externalName]!
            let members = owas.members.map { LyncDeployment.Member(host: $0.host, port: $0.port ?? 443) }
            farm(
                LyncDeployment.Site(externalName: owas.externalName, members: members, serverName: owas.serverName),
                name: name, port: 443, tls: true, persistence: "source",
                comment: ["Office Web Apps Server \(owas.externalName): 443, no port change."]
            )
        }
        line()
        line("rules:   # first match wins")
        func rule(_ name: String, listener: String, names publicNames: [String], paths: String = "/*", farm: String, maxBody: String? = nil, comment: [String]) {
            for c in comment { line("  # \(c)") }
            line("  - name: \(name)")
            line("    listeners: [\(listener)]")
            line("    public_names: \(list(publicNames))")
            line("    paths: [\(yamlScalar(paths))]")
            line("    farm: \(farm)")
            line("    forward_original_host: true")
            line("    \(timeouts)")
            if let maxBody { line("    max_body: \(maxBody)") }
            line()
        }
        if d.httpAutodiscover {
            rule(
                "lyncdiscover-http", listener: "http", names: d.lyncdiscoverNames, farm: firstHop + "-http",
                comment: [
                    "Autodiscover over HTTP, 80 -> 8080. First, and no other rule on this listener has these names.",
                ]
            )
        }
        for pool in d.pools {
            let name = names[pool.externalName]!
            rule(
                name + "-datacollab", listener: "https", names: [pool.externalName], paths: "/DataCollabWeb/*", farm: name,
                maxBody: "500MB",
                comment: ["Lync Web App content uploads: up to 500 MB when raised on the Front Ends."]
            )
            rule(
                name, listener: "https", names: [pool.externalName], farm: name,
                comment: [
                    "The pool's external web services: address book, group expansion, meetings, Lync Web App,",
                    "mobility (Mcx, UCWA), web tickets, autodiscover. 960 s covers mobile push timeouts (900 s).",
                ]
            )
        }
        for director in d.directors {
            let name = names[director.externalName]!
            rule(name, listener: "https", names: [director.externalName], farm: name, comment: ["The Director's external web services."])
        }
        rule(
            "simple-urls", listener: "https", names: d.simpleURLNames, farm: firstHop,
            comment: ["Meet and dial-in simple URLs; \(firstHop) routes them by the Host header, so it is forwarded."]
        )
        rule(
            "lyncdiscover", listener: "https", names: d.lyncdiscoverNames, farm: firstHop,
            comment: ["Autodiscover over HTTPS: the certificate must cover these names or mobile clients drop."]
        )
        for owas in d.officeWebApps {
            let name = names[owas.externalName]!
            rule(
                name, listener: "https", names: [owas.externalName], farm: name,
                comment: ["Office Web Apps (PowerPoint in meetings); encoded WopiSrc queries pass byte for byte."]
            )
        }
        line("  # The admin simple URL is internal only: refused on every listener (403).")
        line("  - { name: block-admin, public_names: \(list(d.adminNames)), paths: [\"/*\"], action: deny }")
        line()
        line("  # Any other name matches no rule and gets 404 from edgesplit itself.")
        return out.joined(separator: "\n") + "\n"
    }
}

/// A YAML scalar, quoted when plain style would change its meaning.
func yamlScalar(_ s: String) -> String {
    let plain = !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._/-".contains($0)) }
        && !["true", "false", "yes", "no", "on", "off", "null", "~"].contains(s.lowercased())
        && !(s.first == "-" )
    return plain ? s : yamlQuoted(s)
}

/// `s` as a double-quoted YAML scalar: always a string, whatever it looks like (a hex key of
/// digits only would otherwise load as a number).
func yamlQuoted(_ s: String) -> String {
    var out = "\""
    for c in s {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        default: out.append(c)
        }
    }
    return out + "\""
}
