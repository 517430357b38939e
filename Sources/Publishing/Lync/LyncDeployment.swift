import Affinity

/// What `edgesplit init lync` is told about a Lync Server 2010/2013 or Skype for Business
/// deployment, in Topology Builder's words: SIP domains, Front End pools and Directors by
/// their external web services FQDN, simple URLs, Office Web Apps Server, certificates.
///
/// Pure and validated: `LyncTemplate` renders it as a configuration file.
public struct LyncDeployment: Hashable, Sendable {
    /// A published server set: a Front End pool, a Director (pool) or an Office Web Apps farm.
    public struct Site: Hashable, Sendable {
        /// The external web services FQDN (`webext.contoso.com`): the rule's public name.
        public var externalName: String
        /// `host` or `host:port` as given; ports are filled in by `httpsMembers`/`httpMembers`.
        public var members: [Member]
        /// The name the members' certificates are verified against (and sent as SNI);
        /// defaults to `externalName`.
        public var serverName: String

        public init(externalName: String, members: [Member], serverName: String? = nil) {
            self.externalName = externalName
            self.members = members
            self.serverName = serverName ?? externalName
        }
    }

    /// One member: a host and an optional HTTPS port.
    public struct Member: Hashable, Sendable {
        public var host: String
        /// Nil means the role's default (4443 for pools and Directors, 443 for Office Web Apps).
        public var port: Int?

        public init(host: String, port: Int? = nil) {
            self.host = host
            self.port = port
        }

        /// `host:port`, with IPv6 literals in brackets.
        public func text(port defaultPort: Int) -> String {
            let h = host.contains(":") ? "[\(host)]" : host
            return "\(h):\(port ?? defaultPort)"
        }

        /// Parses `host`, `host:port`, `[v6]`, `[v6]:port`.
        public static func parse(_ text: String) throws(LyncDeploymentError) -> Member {
            var host = text
            var port: Int?
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]") else { throw LyncDeploymentError("member '\(text)': missing ']'") }
                host = String(text[text.index(after: text.startIndex)..<close])
                let rest = text[text.index(after: close)...]
                if !rest.isEmpty {
                    guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()) else {
                        throw LyncDeploymentError("member '\(text)': expected [address]:port")
                    }
                    port = p
                }
                guard ClientAddress(host)?.family == .ipv6 else { throw LyncDeploymentError("member '\(text)': not an IPv6 address in brackets") }
            } else if let colon = text.lastIndex(of: ":") {
                guard text.firstIndex(of: ":") == colon else {
                    throw LyncDeploymentError("member '\(text)': write an IPv6 member in brackets, like [2001:db8::1]:4443")
                }
                host = String(text[..<colon])
                guard let p = Int(text[text.index(after: colon)...]) else {
                    throw LyncDeploymentError("member '\(text)': the port must be a number")
                }
                port = p
            }
            if let port, !(1...65535).contains(port) {
                throw LyncDeploymentError("member '\(text)': port \(port) is not in 1...65535")
            }
            if ClientAddress(host) == nil {
                try LyncDeployment.checkName(host, what: "member '\(text)'")
            }
            return Member(host: host.lowercased(), port: port)
        }
    }

    /// 32 random bytes from the system's generator (getrandom on Linux) as 64 hex digits.
    public static func randomCookieKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ -> String in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Parses `EXTERNAL_FQDN=MEMBER[,MEMBER…]` (the value of `--pool`, `--director`,
    /// `--office-web-apps`).
    public static func parseSite(_ text: String, flag: String) throws(LyncDeploymentError) -> Site {
        guard let eq = text.firstIndex(of: "=") else {
            throw LyncDeploymentError("\(flag) '\(text)': expected EXTERNAL_FQDN=MEMBER[,MEMBER…], like webext.contoso.com=fe1.contoso.local,fe2.contoso.local")
        }
        let name = String(text[..<eq]).lowercased()
        try checkName(name, what: "\(flag) external FQDN")
        let list = text[text.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false)
        var members: [Member] = []
        for item in list {
            let m = item.trimmingSpaces
            guard !m.isEmpty else { throw LyncDeploymentError("\(flag) '\(text)': an empty member") }
            let member = try Member.parse(m)
            if members.contains(member) { throw LyncDeploymentError("\(flag) '\(text)': member '\(m)' is given twice") }
            members.append(member)
        }
        return Site(externalName: name, members: members)
    }

    /// Parses `EXTERNAL_FQDN=NAME` (the value of `--server-name`).
    public static func parseServerName(_ text: String) throws(LyncDeploymentError) -> (external: String, serverName: String) {
        guard let eq = text.firstIndex(of: "=") else {
            throw LyncDeploymentError("--server-name '\(text)': expected EXTERNAL_FQDN=NAME, like webext.contoso.com=pool01.contoso.local")
        }
        let external = String(text[..<eq]).lowercased()
        let name = String(text[text.index(after: eq)...]).lowercased()
        try checkName(external, what: "--server-name external FQDN")
        try checkName(name, what: "--server-name name")
        return (external, name)
    }

    public enum ListenerCertificate: Hashable, Sendable {
        case pem(cert: String, key: String)
        case pfx(path: String, passwordFile: String?)
    }

    public var sipDomains: [String]
    public var pools: [Site]
    public var directors: [Site]
    /// Meet simple URL host names (one per SIP domain).
    public var meetNames: [String]
    /// The dial-in simple URL host name.
    public var dialinName: String
    public var officeWebApps: [Site]
    public var certificate: ListenerCertificate
    /// PEM of the internal CA that issued the Front End/Director certificates; nil = system roots.
    public var internalCA: String?
    /// Keep Lync Server 2010's cookie persistence (MS-WSMAN) on pools and Directors.
    public var lync2010: Bool
    /// Publish autodiscover over plain HTTP (port 80 → 8080), first in order.
    public var httpAutodiscover: Bool
    public var listenAddress: String
    public var httpsPort: Int
    public var httpPort: Int
    public var instance: String?
    /// Access log path ("-" = standard output).
    public var accessLog: String
    /// The `cookie_key` of the cookie-persistence farms (with ``lync2010``): 64 hex digits of
    /// fresh randomness unless given. Without a secret key anyone who knows a member's
    /// `host:port` could compute its token and pick the member; with one the tokens are
    /// unforgeable, and the same file on every edge host makes them agree.
    public var cookieKey: String

    /// Builds and validates a deployment. `meetNames` nil = `meet.<each domain>`, `dialinName`
    /// nil = `dialin.<first domain>`; `serverNames` maps an external FQDN to its member
    /// certificate name.
    public init(
        sipDomains: [String], pools: [Site], directors: [Site] = [], meetNames: [String]? = nil,
        dialinName: String? = nil, officeWebApps: [Site] = [], certificate: ListenerCertificate,
        internalCA: String? = nil, lync2010: Bool = false, httpAutodiscover: Bool = false,
        listenAddress: String = "0.0.0.0", httpsPort: Int = 443, httpPort: Int = 80,
        instance: String? = nil, accessLog: String = "-", cookieKey: String? = nil
    ) throws(LyncDeploymentError) {
        guard !sipDomains.isEmpty else { throw LyncDeploymentError("give at least one --sip-domain (e.g. --sip-domain contoso.com)") }
        guard !pools.isEmpty else {
            throw LyncDeploymentError("give at least one --pool EXTERNAL_FQDN=MEMBER[,MEMBER…] (e.g. --pool webext.contoso.com=fe1.contoso.local,fe2.contoso.local)")
        }
        let domains = sipDomains.map { $0.lowercased() }
        for d in domains { try Self.checkName(d, what: "SIP domain") }
        if Set(domains).count != domains.count { throw LyncDeploymentError("a SIP domain is given twice") }
        self.sipDomains = domains
        func normalized(_ sites: [Site]) -> [Site] {
            sites.map { Site(externalName: $0.externalName.lowercased(), members: $0.members, serverName: $0.serverName.lowercased()) }
        }
        self.pools = normalized(pools)
        self.directors = normalized(directors)
        self.officeWebApps = normalized(officeWebApps)
        self.meetNames = (meetNames ?? domains.map { "meet.\($0)" }).map { $0.lowercased() }
        self.dialinName = (dialinName ?? "dialin.\(domains[0])").lowercased()
        self.certificate = certificate
        self.internalCA = internalCA
        self.lync2010 = lync2010
        self.httpAutodiscover = httpAutodiscover
        self.listenAddress = listenAddress
        self.httpsPort = httpsPort
        self.httpPort = httpPort
        self.instance = instance
        self.accessLog = accessLog
        self.cookieKey = cookieKey ?? Self.randomCookieKey()
        guard self.cookieKey.utf8.count >= Farm.minimumCookieKeyLength else {
            throw LyncDeploymentError("cookie key: expected at least \(Farm.minimumCookieKeyLength) characters, got \(self.cookieKey.utf8.count)")
        }

        for site in self.pools + self.directors + self.officeWebApps {
            try Self.checkName(site.externalName, what: "external FQDN")
            try Self.checkName(site.serverName, what: "server name of '\(site.externalName)'")
            if site.members.isEmpty { throw LyncDeploymentError("'\(site.externalName)' has no members") }
        }
        for name in self.meetNames { try Self.checkName(name, what: "meet simple URL") }
        try Self.checkName(dialinName ?? "dialin.\(domains[0])", what: "dial-in simple URL")
        var seen: Set<String> = []
        for name in publicNames where !seen.insert(name).inserted {
            throw LyncDeploymentError("'\(name)' is published twice: each public name belongs to one rule")
        }
        for name in publicNames {
            if name.hasPrefix("lyncdiscoverinternal.") {
                throw LyncDeploymentError("'\(name)': internal autodiscover is never published on the reverse proxy")
            }
            if sipDomains.contains(where: { name == "admin.\($0.lowercased())" }) {
                throw LyncDeploymentError("'\(name)': the admin simple URL is internal only and is never published")
            }
        }
        guard ClientAddress(listenAddress) != nil else {
            throw LyncDeploymentError("--listen '\(listenAddress)': expected an IPv4 or IPv6 address such as 0.0.0.0 or ::")
        }
        for port in [httpsPort, httpPort] where !(1...65535).contains(port) {
            throw LyncDeploymentError("port \(port) is not in 1...65535")
        }
        if httpAutodiscover && httpsPort == httpPort {
            throw LyncDeploymentError("the HTTPS and HTTP ports must differ")
        }
        if let instance {
            if !ConfigReader.isInstanceName(instance) {
                throw LyncDeploymentError("--instance '\(instance)': expected a name matching [a-z0-9][a-z0-9_-]{0,31}")
            }
        }
    }

    /// Autodiscover names: `lyncdiscover.<each SIP domain>`.
    public var lyncdiscoverNames: [String] { sipDomains.map { "lyncdiscover.\($0)" } }
    /// Admin simple URL names, refused by the last rule.
    public var adminNames: [String] { sipDomains.map { "admin.\($0)" } }
    /// The simple URL names: meet (each domain) and dial-in.
    public var simpleURLNames: [String] { meetNames + (meetNames.contains(dialinName) ? [] : [dialinName]) }

    /// Every public name a client may use: what the listener certificate must cover.
    public var publicNames: [String] {
        pools.map(\.externalName) + directors.map(\.externalName) + simpleURLNames + lyncdiscoverNames
            + officeWebApps.map(\.externalName)
    }

    /// Where simple URLs and autodiscover go: the first Director, else the first pool.
    public var firstHop: Site { directors.first ?? pools[0] }

    static func checkName(_ name: String, what: String) throws(LyncDeploymentError) {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let ok = !name.isEmpty && name.utf8.count <= 253 && labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
        guard ok else { throw LyncDeploymentError("\(what) '\(name)': expected a DNS name like webext.contoso.com (letters, digits, '-' and '.')") }
    }
}

/// A bad `init lync` input, in words that say what to type instead.
public struct LyncDeploymentError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
