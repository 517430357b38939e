import Affinity
import Yams

/// The key set of each section, in the order the reference documents them.
enum ConfigKeys {
    static let root = ["instance", "workers", "affinity", "access_log", "listeners", "farms", "rules", "http", "http2", "timeouts", "admin", "tls", "limits"]
    static let admin = ["metrics", "dashboard"]
    static let dashboard = ["enabled", "token_file", "basic_auth", "allow_changes"]
    static let basicAuth = ["user", "password_file"]
    static let tls = ["tickets"]
    static let tickets = ["rotate"]
    static let affinity = ["ipv4_prefix", "ipv6_prefix", "seed", "balance_factor"]
    static let accessLog = ["path", "format"]
    static let listener = ["name", "address", "port", "tls", "l4_routes"]
    static let l4Route = ["name", "public_names", "farm", "proxy_protocol", "idle"]
    static let listenerTLS = ["certificates", "min_version"]
    static let certificate = ["cert", "key", "pfx", "password_file", "ocsp"]
    static let farm = ["name", "members", "tls", "persistence", "cookie_name", "cookie_key", "health"]
    static let health = ["path", "interval", "timeout", "rise", "fall", "expect", "host"]
    static let farmTLS = ["ca", "server_name", "verify"]
    static let rule = [
        "name", "listeners", "public_names", "paths", "farm", "action", "forward_original_host",
        "source_networks", "timeouts", "max_body", "limits",
    ]
    static let ruleTimeouts = ["connect", "response", "idle"]
    static let http = ["max_request_line", "max_header_bytes"]
    static let http2 = ["enabled", "max_concurrent_streams", "max_header_list_size", "max_resets_per_second"]
    static let globalTimeouts = ["tls_handshake", "request_head", "shutdown", "drain"]
    static let limits = [
        "concurrent_connections", "connections_per_minute", "requests_per_minute", "half_open_handshakes", "concurrent_streams",
        "exceptions", "tracked_sources",
    ]
}

/// The keys of one YAML mapping, with the nodes needed to point at them.
struct Fields {
    let node: Node
    let path: String
    var values: [String: (key: Node, value: Node)] = [:]
    /// Keys written with no value (`farm:`), treated as absent by optional readers.
    var empty: [String: Node] = [:]

    subscript(key: String) -> Node? { values[key]?.value }
    func keyNode(_ key: String) -> Node? { values[key]?.key ?? empty[key] }
    func sub(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

struct ConfigReader {
    let file: String
    private(set) var diagnostics: [ConfigDiagnostic] = []
    var listBudget = ConfigLoader.maximumListEntries
    var budgetReported = false

    /// Positions of values the cross-checks point at.
    private var listenerAddressNodes: [Int: Node] = [:]
    /// The `farm` value of each L4 route read, checked once the farms are known.
    private var l4FarmNodes: [(listener: Int, route: Int, path: String, node: Node)] = []

    init(file: String) { self.file = file }

    /// More than this many diagnostics are summarized: past a point they are noise.
    static let maximumDiagnostics = 200

    var sortedDiagnostics: [ConfigDiagnostic] {
        let sorted = diagnostics.enumerated().sorted { a, b in
            a.element.position == b.element.position ? a.offset < b.offset : a.element.position < b.element.position
        }.map(\.element)
        guard sorted.count > Self.maximumDiagnostics else { return sorted }
        var shown = Array(sorted.prefix(Self.maximumDiagnostics))
        let hidden = sorted.count - shown.count
        let severity: ConfigDiagnostic.Severity = sorted.dropFirst(shown.count).contains { $0.severity == .error } ? .error : .warning
        shown.append(ConfigDiagnostic(severity: severity, position: sorted[shown.count].position, message: "\(hidden) more diagnostics not shown"))
        return shown
    }

    // MARK: Diagnostics

    func position(_ node: Node?) -> SourcePosition {
        guard let mark = node?.mark else { return SourcePosition(file: file, line: 1, column: 1) }
        return SourcePosition(file: file, line: max(1, mark.line), column: max(1, mark.column))
    }

    mutating func error(_ message: String, at node: Node?) {
        diagnostics.append(.error(message, at: position(node)))
    }

    mutating func warning(_ message: String, at node: Node?) {
        diagnostics.append(.warning(message, at: position(node)))
    }

    // MARK: Document

    mutating func read(yaml: String) -> EdgesplitConfig? {
        if let guardDiagnostic = YAMLGuard.check(yaml, file: file) {
            diagnostics.append(guardDiagnostic)
            return nil
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            diagnostics.append(YAMLGuard.diagnostic(for: error, yaml: yaml, file: file))
            return nil
        }
        guard let root, !isNull(root) else {
            error("the configuration is empty; expected a mapping with listeners, farms and rules", at: nil)
            return nil
        }
        return readRoot(root)
    }

    private mutating func readRoot(_ root: Node) -> EdgesplitConfig? {
        guard let fields = readFields(of: root, path: "", owner: "at the top level", allowed: ConfigKeys.root) else { return nil }
        var config = EdgesplitConfig(listeners: [], farms: [], rules: [], file: file)

        if let node = fields["instance"], let text = string(node, fields.sub("instance")) {
            if Self.isInstanceName(text) {
                config.instance = text
            } else {
                error("instance: expected a name matching [a-z0-9][a-z0-9_-]{0,31}, got '\(text)'", at: node)
            }
        }
        if let node = fields["workers"] {
            config.workers = int(node, "workers", 1...64)
        }
        if let node = fields["affinity"] { config.affinity = readAffinity(node) ?? config.affinity }
        if let node = fields["access_log"] { config.accessLog = readAccessLog(node) }

        var listenerNames: [String] = []
        if let node = fields["listeners"] {
            (config.listeners, listenerNames) = readListeners(node)
        } else {
            error("missing required key 'listeners' (expected a list of listeners)", at: root)
        }
        var farmNames: [String] = []
        if let node = fields["farms"] {
            (config.farms, farmNames) = readFarms(node)
        }
        checkL4Farms(config)
        var ruleCount = 0
        if let node = fields["rules"] {
            let items = list(node, "rules") ?? []
            ruleCount = items.count
            if items.isEmpty, isSequence(node) {
                error("rules: the list is empty; expected at least one publishing rule", at: node)
            }
            for (i, item) in items.enumerated() {
                if let rule = readRule(item, index: i, listenerNames: listenerNames, farmNames: farmNames) {
                    config.rules.append(rule)
                }
            }
        } else {
            error("missing required key 'rules' (expected a list of publishing rules)", at: root)
        }
        if let node = fields["http"] { config.http = readHTTP(node) ?? config.http }
        if let node = fields["http2"] { config.http2 = readHTTP2(node) ?? config.http2 }
        if let node = fields["timeouts"] { config.timeouts = readGlobalTimeouts(node) ?? config.timeouts }
        if let node = fields["admin"] { config.admin = readAdmin(node) ?? config.admin }
        if let node = fields["tls"] { config.tls = readTLS(node) ?? config.tls }
        if let node = fields["limits"] { config.limits = readLimits(node) }

        checkDuplicateNames(config.listeners.map { ($0.name, $0.position) }, kind: "listener", section: "listeners")
        checkDuplicateNames(config.farms.map { ($0.name, $0.position) }, kind: "farm", section: "farms")
        checkDuplicateNames(config.rules.map { ($0.name, $0.position) }, kind: "rule", section: "rules")
        checkListenerConflicts(config.listeners)
        checkL4RouteNames(config.listeners)
        // Cross-rule checks only make sense when every rule was understood.
        if config.rules.count == ruleCount {
            checkShadowing(config.rules)
            checkUnused(config)
            checkL4NamesAlsoInRules(config)
        }
        return config
    }

    static func isInstanceName(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...32).contains(bytes.count) else { return false }
        for (i, b) in bytes.enumerated() {
            let alnum = (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            if i == 0 ? !alnum : !(alnum || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")) { return false }
        }
        return true
    }

    /// Listener, farm and rule names: they appear in logs, metrics and CLI arguments.
    static func isObjectName(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        for (i, b) in bytes.enumerated() {
            let alnum = (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            if i == 0 ? !alnum : !(alnum || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")) {
                return false
            }
        }
        return true
    }

    // MARK: Sections

    private mutating func readAffinity(_ node: Node) -> AffinitySettings? {
        guard let fields = readFields(of: node, path: "affinity", owner: "affinity", allowed: ConfigKeys.affinity) else { return nil }
        var settings = AffinitySettings()
        if let n = fields["ipv4_prefix"], let v = int(n, "affinity.ipv4_prefix", 1...32) { settings.ipv4Prefix = v }
        if let n = fields["ipv6_prefix"], let v = int(n, "affinity.ipv6_prefix", 1...128) { settings.ipv6Prefix = v }
        if let n = fields["seed"], let v = int(n, "affinity.seed", 0...Int(UInt32.max)) { settings.seed = UInt32(v) }
        if let n = fields["balance_factor"], !isNull(n) {
            if case let .scalar(scalar) = n, let balance = BoundedLoad(text: scalar.string) {
                settings.balance = balance
            } else {
                error("affinity.balance_factor: expected a number 1...100 with at most three decimals (for example 1.25), got \(describe(n))", at: n)
            }
        }
        return settings
    }

    private mutating func readAccessLog(_ node: Node) -> AccessLogSettings? {
        guard let fields = readFields(of: node, path: "access_log", owner: "access_log", allowed: ConfigKeys.accessLog) else { return nil }
        let format = fields["format"].flatMap { choice($0, "access_log.format", AccessLogFormat.self) } ?? .w3c
        guard let path = required(fields, "path", "a file path or '-' for standard output") else { return nil }
        guard let text = string(path, "access_log.path") else { return nil }
        guard !text.isEmpty else {
            error("access_log.path: expected a file path or '-' for standard output, got ''", at: path)
            return nil
        }
        return AccessLogSettings(path: text, format: format, position: position(node))
    }

    private mutating func readListeners(_ node: Node) -> ([Listener], [String]) {
        let items = list(node, "listeners") ?? []
        if items.isEmpty, isSequence(node) {
            error("listeners: the list is empty; expected at least one listener", at: node)
        }
        var listeners: [Listener] = []
        var names: [String] = []
        for (i, item) in items.enumerated() {
            let path = "listeners[\(i)]"
            let name = nameOf(item)
            if let name { names.append(name) }
            let owner = name.map { "listener '\($0)'" } ?? path
            guard let fields = readFields(of: item, path: path, owner: owner, allowed: ConfigKeys.listener) else { continue }
            var ok = true
            let nameValue = objectName(fields, kind: "listener")
            let addressNode = required(fields, "address", "an IPv4 or IPv6 address like 0.0.0.0 or ::")
            var address: String?
            if let addressNode, let text = string(addressNode, fields.sub("address")) {
                var literal = text
                if literal.hasPrefix("["), literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
                if let parsed = ClientAddress(literal), !literal.hasPrefix("[") {
                    if literal.contains(":") && parsed.family == .ipv4 {
                        error("\(fields.sub("address")): '\(text)' is an IPv4-mapped address; listen on \(parsed) instead", at: addressNode)
                    } else {
                        // Canonical text, so "0:0::0" and "::" are recognized as the same.
                        address = parsed.description
                    }
                } else {
                    error("\(fields.sub("address")): expected an IPv4 or IPv6 address like 0.0.0.0 or ::, got '\(text)'", at: addressNode)
                }
            }
            let portNode = required(fields, "port", "an integer 1...65535")
            let port = portNode.flatMap { int($0, fields.sub("port"), 1...65535) }
            var tls: ListenerTLS?
            if let tlsNode = fields["tls"] {
                tls = readListenerTLS(tlsNode, path: fields.sub("tls"), owner: "the tls of \(owner)")
                if tls == nil { ok = false }
            }
            var routes: [L4Route] = []
            if let routesNode = fields["l4_routes"] {
                if let read = readL4Routes(routesNode, path: fields.sub("l4_routes"), listener: listeners.count) {
                    routes = read
                    if tls == nil, fields["tls"] == nil {
                        error("\(fields.sub("l4_routes")): \(owner) has no tls; L4 routes need a TLS listener (names that match no route continue as L7 there)", at: fields.keyNode("l4_routes"))
                        ok = false
                    }
                } else {
                    ok = false
                }
            }
            guard ok, let nameValue, let address, let port else { continue }
            listenerAddressNodes[listeners.count] = addressNode
            listeners.append(Listener(name: nameValue, address: address, port: port, tls: tls, l4Routes: routes, position: position(item)))
        }
        return (listeners, names)
    }

    private mutating func readListenerTLS(_ node: Node, path: String, owner: String) -> ListenerTLS? {
        guard let fields = readFields(of: node, path: path, owner: owner, allowed: ConfigKeys.listenerTLS) else { return nil }
        let minVersion = fields["min_version"].flatMap { choice($0, fields.sub("min_version"), TLSMinimumVersion.self) }
        var ok = !(fields["min_version"] != nil && minVersion == nil)
        guard let certsNode = required(fields, "certificates", "a list of certificates") else { return nil }
        guard let items = list(certsNode, fields.sub("certificates")) else { return nil }
        if items.isEmpty {
            error("\(fields.sub("certificates")): the list is empty; a TLS listener needs at least one certificate", at: certsNode)
            return nil
        }
        var certificates: [CertificateSource] = []
        for (i, item) in items.enumerated() {
            let itemPath = "\(fields.sub("certificates"))[\(i)]"
            guard let c = readFields(of: item, path: itemPath, owner: itemPath, allowed: ConfigKeys.certificate) else { ok = false; continue }
            let cert = c["cert"].flatMap { string($0, c.sub("cert")) }
            let key = c["key"].flatMap { string($0, c.sub("key")) }
            let pfx = c["pfx"].flatMap { string($0, c.sub("pfx")) }
            let password = c["password_file"].flatMap { string($0, c.sub("password_file")) }
            let ocsp = c["ocsp"].flatMap { string($0, c.sub("ocsp")) }
            if c["cert"] != nil && cert == nil || c["key"] != nil && key == nil || c["pfx"] != nil && pfx == nil
                || c["password_file"] != nil && password == nil || c["ocsp"] != nil && ocsp == nil
            {
                ok = false
                continue
            }
            if let cert, let key, pfx == nil {
                if password != nil {
                    error("\(itemPath).password_file: only used with pfx; a PEM key is read unencrypted", at: c["password_file"])
                    ok = false
                } else {
                    certificates.append(CertificateSource(kind: .pem(cert: cert, key: key), ocsp: ocsp, position: position(item)))
                }
            } else if let pfx, cert == nil, key == nil {
                certificates.append(CertificateSource(kind: .pfx(path: pfx, passwordFile: password), ocsp: ocsp, position: position(item)))
            } else if pfx != nil {
                error("\(itemPath): expected either cert and key, or pfx, not both", at: item)
                ok = false
            } else if cert != nil {
                error("\(itemPath): 'cert' needs 'key' (the PEM private key file)", at: item)
                ok = false
            } else if key != nil {
                error("\(itemPath): 'key' needs 'cert' (the PEM certificate chain file)", at: item)
                ok = false
            } else {
                error("\(itemPath): expected cert and key (PEM files), or pfx (a PKCS#12 file)", at: item)
                ok = false
            }
        }
        guard ok else { return nil }
        return ListenerTLS(certificates: certificates, minVersion: minVersion ?? .tls12, position: position(node))
    }

    private mutating func readFarms(_ node: Node) -> ([Farm], [String]) {
        let items = list(node, "farms") ?? []
        var farms: [Farm] = []
        var names: [String] = []
        for (i, item) in items.enumerated() {
            let path = "farms[\(i)]"
            let name = nameOf(item)
            if let name { names.append(name) }
            let owner = name.map { "farm '\($0)'" } ?? path
            guard let fields = readFields(of: item, path: path, owner: owner, allowed: ConfigKeys.farm) else { continue }
            var ok = true
            let nameValue = objectName(fields, kind: "farm")
            var members: [FarmMember] = []
            if let membersNode = required(fields, "members", "a list of host:port members") {
                if let items = list(membersNode, fields.sub("members")) {
                    if items.isEmpty {
                        error("\(fields.sub("members")): farm '\(name ?? path)' has no members; expected at least one host:port", at: membersNode)
                        ok = false
                    }
                    for (j, memberNode) in items.enumerated() {
                        let memberPath = "\(fields.sub("members"))[\(j)]"
                        guard let text = string(memberNode, memberPath) else { ok = false; continue }
                        do throws(ConfigValueError) {
                            var member = try Self.parseMember(text)
                            member.position = position(memberNode)
                            if let first = members.first(where: { $0.host.lowercased() == member.host.lowercased() && $0.port == member.port }) {
                                warning("\(memberPath): '\(text)' is already a member at \(first.position); it would get a double share", at: memberNode)
                            } else {
                                members.append(member)
                            }
                        } catch {
                            self.error("\(memberPath): \(error.message)", at: memberNode)
                            ok = false
                        }
                    }
                } else {
                    ok = false
                }
            } else {
                ok = false
            }
            var tls: FarmTLS?
            if let tlsNode = fields["tls"] {
                if let t = readFields(of: tlsNode, path: fields.sub("tls"), owner: "the tls of \(owner)", allowed: ConfigKeys.farmTLS) {
                    let ca = t["ca"].flatMap { string($0, t.sub("ca")) }
                    var serverName = t["server_name"].flatMap { string($0, t.sub("server_name")) }
                    if let n = t["server_name"], let s = serverName {
                        do throws(ConfigValueError) {
                            let pattern = try HostPattern.parse(s)
                            if pattern.kind == HostPattern.Kind.wildcard || s.hasPrefix("[") {
                                throw ConfigValueError("'\(s)' is not a host name")
                            }
                            serverName = pattern.text
                        } catch {
                            self.error("\(t.sub("server_name")): expected a host name like pool01.contoso.local: \(error.message)", at: n)
                            ok = false
                        }
                    }
                    var verify = true
                    if let n = t["verify"] {
                        if let v = bool(n, t.sub("verify")) {
                            verify = v
                            if !v {
                                warning("\(t.sub("verify")): certificate verification toward farm '\(name ?? path)' is off; anyone on the path to its members can read and change the traffic", at: n)
                            }
                        } else {
                            ok = false
                        }
                    }
                    if t["ca"] != nil && ca == nil || t["server_name"] != nil && serverName == nil { ok = false }
                    tls = FarmTLS(ca: ca, serverName: serverName, verify: verify, position: position(tlsNode))
                } else {
                    ok = false
                }
            }
            var persistence = Persistence.source
            if let n = fields["persistence"] {
                if let p = choice(n, fields.sub("persistence"), Persistence.self) { persistence = p } else { ok = false }
            }
            var cookieName = Farm.defaultCookieName
            if let n = fields["cookie_name"], let text = string(n, fields.sub("cookie_name")) {
                if !Self.isCookieName(text) {
                    error("\(fields.sub("cookie_name")): expected a cookie name (letters, digits and !#$%&'*+-.^_`|~), got '\(text)'", at: n)
                    ok = false
                } else if persistence != .cookie, text != Farm.defaultCookieName {
                    warning("\(fields.sub("cookie_name")): ignored unless persistence is cookie (it is \(persistence.rawValue))", at: n)
                }
                cookieName = text
            }
            var cookieKey: String?
            if let n = fields["cookie_key"] {
                if let text = string(n, fields.sub("cookie_key")) {
                    if text.utf8.count < Farm.minimumCookieKeyLength {
                        error("\(fields.sub("cookie_key")): expected at least \(Farm.minimumCookieKeyLength) characters of secret, got \(text.utf8.count)", at: n)
                        ok = false
                    }
                    cookieKey = text
                } else {
                    ok = false
                }
            } else if persistence == .cookie {
                // Not `ok = false`: the farm still exists for the checks that follow (an L4
                // route naming it), and any error already makes the configuration invalid.
                error("\(fields.sub("cookie_key")): missing; persistence cookie needs a secret key of at least \(Farm.minimumCookieKeyLength) characters, the same on every edge host (without one anyone who knows a member's address can forge its token); add for example cookie_key: \"<the output of openssl rand -hex 32>\"", at: fields["persistence"] ?? item)
            }
            var health: HealthCheck?
            if let n = fields["health"] {
                health = readHealth(n, path: fields.sub("health"), owner: "the health check of \(owner)")
                if health == nil { ok = false }
            }
            guard ok, let nameValue else { continue }
            farms.append(Farm(
                name: nameValue, members: members, tls: tls, persistence: persistence, cookieName: cookieName,
                cookieKey: cookieKey, health: health, position: position(item)
            ))
        }
        return (farms, names)
    }

    private mutating func readHealth(_ node: Node, path: String, owner: String) -> HealthCheck? {
        guard let fields = readFields(of: node, path: path, owner: owner, allowed: ConfigKeys.health) else { return nil }
        var check = HealthCheck(position: position(node))
        var ok = true
        if let n = fields["path"] {
            if let text = string(n, fields.sub("path")) {
                if text.hasPrefix("/"), text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
                    check.path = text
                } else {
                    error("\(fields.sub("path")): expected an absolute path like /autodiscover/autodiscoverservice.svc/root, got '\(text)'", at: n)
                    ok = false
                }
            } else {
                ok = false
            }
        }
        if let n = fields["interval"] {
            if let d = duration(n, fields.sub("interval")) { check.interval = d } else { ok = false }
        }
        if let n = fields["timeout"] {
            if let d = duration(n, fields.sub("timeout")) { check.timeout = d } else { ok = false }
        }
        if let n = fields["rise"] {
            if let v = int(n, fields.sub("rise"), 1...100) { check.rise = v } else { ok = false }
        }
        if let n = fields["fall"] {
            if let v = int(n, fields.sub("fall"), 1...100) { check.fall = v } else { ok = false }
        }
        if let n = fields["host"] {
            if let text = string(n, fields.sub("host")) {
                if HostPattern(text)?.kind == HostPattern.Kind.exact {
                    check.host = text
                } else {
                    error("\(fields.sub("host")): expected a host name, got '\(text)'", at: n)
                    ok = false
                }
            } else {
                ok = false
            }
        }
        if let n = fields["expect"] {
            if let items = list(n, fields.sub("expect")) {
                var ranges: [ClosedRange<Int>] = []
                for (i, item) in items.enumerated() {
                    guard let text = string(item, "\(fields.sub("expect"))[\(i)]") else { ok = false; continue }
                    do throws(ConfigValueError) {
                        ranges.append(try HealthCheck.parseStatusRange(text))
                    } catch {
                        self.error("\(fields.sub("expect"))[\(i)]: \(error.message)", at: item)
                        ok = false
                    }
                }
                if ranges.isEmpty && items.isEmpty {
                    error("\(fields.sub("expect")): expected at least one status or range", at: n)
                    ok = false
                }
                check.expect = ranges
            } else {
                ok = false
            }
        }
        if ok, check.timeout >= check.interval {
            warning("\(path): timeout \(ConfigValue.format(check.timeout)) is not shorter than interval \(ConfigValue.format(check.interval)); checks will overlap", at: node)
        }
        return ok ? check : nil
    }

    static func isCookieName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128 && text.unicodeScalars.allSatisfy { s in
            s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || "!#$%&'*+-.^_`|~".unicodeScalars.contains(s))
        }
    }

    /// `host:port`, with IPv6 literals in brackets.
    static func parseMember(_ text: String) throws(ConfigValueError) -> FarmMember {
        let expected = "expected host:port like 10.0.0.11:4443, fe1.contoso.local:4443 or [2001:db8::1]:4443, got '\(text)'"
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw ConfigValueError(expected) }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ConfigValueError(expected) }
            portText = rest.dropFirst()
            guard let address = ClientAddress(host), address.family == .ipv6 || host.contains(":") else {
                throw ConfigValueError("'\(text)': '\(host)' is not an IPv6 address")
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ConfigValueError(expected) }
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw ConfigValueError("'\(text)': write an IPv6 member in brackets, as in [2001:db8::1]:4443")
            }
            do throws(ConfigValueError) {
                let pattern = try HostPattern.parse(host)
                guard pattern.kind == .exact else { throw ConfigValueError("a member cannot be a wildcard") }
            } catch {
                throw ConfigValueError("'\(text)': \(error.message)")
            }
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), (1...65535).contains(port)
        else {
            throw ConfigValueError("'\(text)': expected a port 1...65535 after the last ':'")
        }
        return FarmMember(host: host, port: port, text: text, position: SourcePosition(file: "", line: 1, column: 1))
    }

    /// A rule's or L4 route's `public_names`; nil (after reporting why) when any is wrong.
    private mutating func readPublicNames(_ fields: Fields) -> [HostPattern]? {
        guard let n = required(fields, "public_names", "a list of host names like webext.contoso.com") else { return nil }
        return parsedList(n, fields.sub("public_names"), whenEmpty: "expected at least one host name like webext.contoso.com", HostPattern.parse)
    }

    /// A listener's `l4_routes`: names passed through by SNI. The farm is checked later
    /// (`checkL4Farms`), once the farms are read.
    private mutating func readL4Routes(_ node: Node, path: String, listener: Int) -> [L4Route]? {
        guard let items = list(node, path) else { return nil }
        if items.isEmpty {
            error("\(path): the list is empty; omit the key when the listener passes nothing through at L4", at: node)
            return nil
        }
        var routes: [L4Route] = []
        var ok = true
        for (i, item) in items.enumerated() {
            let itemPath = "\(path)[\(i)]"
            let owner = nameOf(item).map { "L4 route '\($0)'" } ?? itemPath
            guard let fields = readFields(of: item, path: itemPath, owner: owner, allowed: ConfigKeys.l4Route) else { ok = false; continue }
            let name = objectName(fields, kind: "L4 route")
            let names = readPublicNames(fields)
            var farm: String?
            if let n = required(fields, "farm", "the name of a farm of plain TCP members"), let text = string(n, fields.sub("farm")) {
                farm = text
                l4FarmNodes.append((listener, routes.count, fields.sub("farm"), n))
            }
            var proxyProtocol: ProxyProtocolVersion?
            if let n = fields["proxy_protocol"] {
                guard let version = choice(n, fields.sub("proxy_protocol"), ProxyProtocolVersion.self) else { ok = false; continue }
                proxyProtocol = version
            }
            var idle = L4Route.defaultIdle
            if let n = fields["idle"] {
                guard let value = duration(n, fields.sub("idle")) else { ok = false; continue }
                idle = value
            }
            guard let name, let names, let farm else {
                ok = false
                if let last = l4FarmNodes.last, last.listener == listener, last.route == routes.count { l4FarmNodes.removeLast() }
                continue
            }
            for earlier in routes {
                for pattern in names where earlier.publicNames.contains(where: { $0.covers(pattern) }) {
                    warning("\(fields.sub("public_names")): '\(pattern)' is never reached in L4 route '\(name)': L4 route '\(earlier.name)' at \(earlier.position) matches it first", at: fields["public_names"])
                }
            }
            routes.append(L4Route(name: name, publicNames: names, farm: farm, proxyProtocol: proxyProtocol, idle: idle, position: position(item)))
        }
        return ok ? routes : nil
    }

    /// An L4 route's farm must exist and forward plain TCP: the bytes are the client's TLS,
    /// so farm `tls` (re-encryption) and cookie persistence (an HTTP header) cannot apply.
    private mutating func checkL4Farms(_ config: EdgesplitConfig) {
        let farmNames = config.farms.map(\.name)
        for entry in l4FarmNodes {
            guard entry.listener < config.listeners.count, entry.route < config.listeners[entry.listener].l4Routes.count else { continue }
            let name = config.listeners[entry.listener].l4Routes[entry.route].farm
            guard let farm = config.farms.first(where: { $0.name == name }) else {
                error("\(entry.path): unknown farm '\(name)' (\(Self.known("farms", farmNames)))", at: entry.node)
                continue
            }
            if farm.tls != nil {
                error("\(entry.path): farm '\(name)' has tls, but an L4 route forwards the client's TLS unchanged; give the route a farm without tls", at: entry.node)
            }
            if farm.persistence == .cookie {
                error("\(entry.path): farm '\(name)' has persistence cookie, which needs HTTP; an L4 route's farm takes persistence source or none", at: entry.node)
            }
        }
    }

    private mutating func readRule(_ item: Node, index i: Int, listenerNames: [String], farmNames: [String]) -> PublishingRule? {
        let path = "rules[\(i)]"
        let name = nameOf(item)
        let owner = name.map { "rule '\($0)'" } ?? path
        guard let fields = readFields(of: item, path: path, owner: owner, allowed: ConfigKeys.rule) else { return nil }
        var ok = true
        let nameValue = objectName(fields, kind: "rule")

        var listeners: [String]?
        if let n = fields["listeners"] {
            if let items = list(n, fields.sub("listeners")) {
                if items.isEmpty {
                    error("\(fields.sub("listeners")): the list is empty; omit the key to publish on every listener", at: n)
                    ok = false
                }
                var names: [String] = []
                for (j, l) in items.enumerated() {
                    guard let text = string(l, "\(fields.sub("listeners"))[\(j)]") else { ok = false; continue }
                    if !listenerNames.contains(text) {
                        error("\(fields.sub("listeners"))[\(j)]: unknown listener '\(text)' (\(Self.known("listeners", listenerNames)))", at: l)
                        ok = false
                    }
                    names.append(text)
                }
                listeners = names
            } else {
                ok = false
            }
        }

        let publicNames = readPublicNames(fields) ?? []
        if publicNames.isEmpty { ok = false }

        var paths: [PathPattern] = [.all]
        if let n = fields["paths"] {
            if let list = parsedList(n, fields.sub("paths"), whenEmpty: "omit the key to publish every path ('/*')", PathPattern.parse) {
                paths = list
            } else {
                ok = false
            }
        }

        var action = RuleAction.allow
        if let n = fields["action"] {
            if let a = choice(n, fields.sub("action"), RuleAction.self) { action = a } else { ok = false }
        }

        var farm: String?
        if let n = fields["farm"] {
            if let text = string(n, fields.sub("farm")) {
                if action == .deny {
                    warning("\(fields.sub("farm")): ignored; rule '\(name ?? path)' denies its requests", at: n)
                } else {
                    farm = text
                    if !farmNames.contains(text) {
                        error("\(fields.sub("farm")): unknown farm '\(text)' (\(Self.known("farms", farmNames)))", at: n)
                        ok = false
                    }
                }
            } else {
                ok = false
            }
        } else if action == .allow {
            let at = fields.keyNode("farm") ?? item
            error("\(fields.sub("farm")): missing; rule '\(name ?? path)' allows requests and needs a farm (\(Self.known("farms", farmNames)))", at: at)
            ok = false
        }

        var forwardOriginalHost = true
        if let n = fields["forward_original_host"] {
            if let b = bool(n, fields.sub("forward_original_host")) { forwardOriginalHost = b } else { ok = false }
        }

        var networks = SourceNetwork.any
        if let n = fields["source_networks"] {
            if let list = parsedList(n, fields.sub("source_networks"), whenEmpty: "omit the key to allow every client", SourceNetwork.parse) {
                networks = list
            } else {
                ok = false
            }
        }

        var timeouts = RuleTimeouts()
        if let n = fields["timeouts"] {
            if let t = readFields(of: n, path: fields.sub("timeouts"), owner: "the timeouts of \(owner)", allowed: ConfigKeys.ruleTimeouts) {
                if let v = t["connect"] { if let d = duration(v, t.sub("connect")) { timeouts.connect = d } else { ok = false } }
                if let v = t["response"] { if let d = duration(v, t.sub("response")) { timeouts.response = d } else { ok = false } }
                if let v = t["idle"] { if let d = duration(v, t.sub("idle")) { timeouts.idle = d } else { ok = false } }
            } else {
                ok = false
            }
        }

        var maxBody: UInt64?
        if let n = fields["max_body"] {
            if let text = string(n, fields.sub("max_body")) {
                do throws(ConfigValueError) {
                    maxBody = try ConfigValue.size(text)
                } catch {
                    self.error("\(fields.sub("max_body")): \(error.message)", at: n)
                    ok = false
                }
            } else {
                ok = false
            }
        }

        var limits: RuleLimits?
        if let n = fields["limits"] {
            limits = readRuleLimits(n, path: fields.sub("limits"), owner: owner)
            if limits == nil { ok = false }
        }

        guard ok, let nameValue else { return nil }
        var rule = PublishingRule(
            name: nameValue, listeners: listeners, publicNames: publicNames, paths: paths, farm: farm, action: action,
            forwardOriginalHost: forwardOriginalHost, sourceNetworks: networks, timeouts: timeouts, maxBody: maxBody,
            position: position(item)
        )
        rule.limits = limits
        return rule
    }

    private mutating func readHTTP(_ node: Node) -> HTTPSettings? {
        guard let fields = readFields(of: node, path: "http", owner: "http", allowed: ConfigKeys.http) else { return nil }
        var settings = HTTPSettings()
        if let n = fields["max_request_line"], let v = size(n, "http.max_request_line", 256...(1 << 20)) {
            settings.maxRequestLine = v
        }
        if let n = fields["max_header_bytes"], let v = size(n, "http.max_header_bytes", 1024...(16 << 20)) {
            settings.maxHeaderBytes = v
        }
        return settings
    }

    private mutating func readAdmin(_ node: Node) -> AdminSettings? {
        guard let fields = readFields(of: node, path: "admin", owner: "admin", allowed: ConfigKeys.admin) else { return nil }
        var settings = AdminSettings()
        if let n = fields["metrics"], let text = string(n, "admin.metrics") {
            let expected = "expected a port (on 127.0.0.1) or ADDRESS:PORT with an IP literal, like 127.0.0.1:9464 or [::1]:9464"
            if let port = Int(text) {
                if (1...65535).contains(port) {
                    settings.metrics = AdminEndpoint(address: "127.0.0.1", port: port, position: position(n))
                } else {
                    error("admin.metrics: \(expected), got '\(text)'", at: n)
                }
            } else {
                do throws(ConfigValueError) {
                    let endpoint = try Self.parseMember(text)
                    guard endpoint.isLiteralAddress else { throw ConfigValueError("'\(endpoint.host)' is not an IP literal") }
                    settings.metrics = AdminEndpoint(address: endpoint.host, port: endpoint.port, position: position(n))
                } catch {
                    self.error("admin.metrics: \(expected), got '\(text)'", at: n)
                }
            }
        }
        if let n = fields["dashboard"] {
            settings.dashboard = readDashboard(n, metrics: settings.metrics, metricsWritten: fields["metrics"] != nil)
        }
        return settings
    }

    /// `admin.dashboard`, checked against the listener it is served on: off loopback, or
    /// with changes allowed, it needs credentials.
    /// `metricsWritten` with no `metrics`: its error is reported already, and the dashboard's
    /// checks against it wait for a readable one.
    private mutating func readDashboard(_ node: Node, metrics: AdminEndpoint?, metricsWritten: Bool) -> DashboardSettings? {
        guard let fields = readFields(of: node, path: "admin.dashboard", owner: "admin.dashboard", allowed: ConfigKeys.dashboard)
        else { return nil }
        if let n = fields["enabled"], bool(n, "admin.dashboard.enabled") == false { return nil }
        var settings = DashboardSettings(position: position(node))
        func file(_ n: Node, _ path: String) -> String? {
            guard let text = string(n, path) else { return nil }
            guard !text.allSatisfy(\.isWhitespace) else {
                error("\(path): expected a file name, got an empty string", at: n)
                return nil
            }
            return text
        }
        if let n = fields["token_file"] { settings.tokenFile = file(n, "admin.dashboard.token_file") }
        if let n = fields["basic_auth"],
           let auth = readFields(of: n, path: "admin.dashboard.basic_auth", owner: "admin.dashboard.basic_auth", allowed: ConfigKeys.basicAuth) {
            let userNode = required(auth, "user", "a user name")
            let user = userNode.flatMap { string($0, "admin.dashboard.basic_auth.user") }
            if let user, let userNode, user.isEmpty || user.contains(":") || user.unicodeScalars.contains(where: { $0.value < 0x20 }) {
                error("admin.dashboard.basic_auth.user: expected a user name without ':' or control characters, got '\(user)'", at: userNode)
            }
            let password = required(auth, "password_file", "the file holding the password").flatMap {
                file($0, "admin.dashboard.basic_auth.password_file")
            }
            if let user, let password { settings.basicAuth = BasicAuthSettings(user: user, passwordFile: password) }
        }
        if let n = fields["allow_changes"], let allow = bool(n, "admin.dashboard.allow_changes") { settings.allowChanges = allow }
        guard let metrics else {
            if !metricsWritten {
                error("admin.dashboard: it is served on the admin.metrics listener; set admin.metrics (e.g. 9464 for 127.0.0.1:9464)", at: node)
            }
            return nil
        }
        if !settings.requiresCredentials, fields["token_file"] == nil, fields["basic_auth"] == nil {
            if !metrics.isLoopback {
                error(
                    "admin.dashboard: admin.metrics listens on \(metrics.address), not a loopback address; "
                        + "expected token_file or basic_auth so the dashboard is never readable by accident",
                    at: node
                )
            } else if settings.allowChanges {
                error("admin.dashboard.allow_changes: true needs token_file or basic_auth: changes are made by an authenticated operator",
                      at: fields["allow_changes"])
            }
        }
        return settings
    }

    private mutating func readTLS(_ node: Node) -> TLSSettings? {
        guard let fields = readFields(of: node, path: "tls", owner: "tls", allowed: ConfigKeys.tls) else { return nil }
        var settings = TLSSettings()
        if let ticketsNode = fields["tickets"] {
            guard let tickets = readFields(of: ticketsNode, path: "tls.tickets", owner: "tls.tickets", allowed: ConfigKeys.tickets)
            else { return nil }
            if let n = tickets["rotate"], let d = duration(n, "tls.tickets.rotate") {
                if d < .seconds(1) {
                    error("tls.tickets.rotate: expected a duration between 1s and 24h, got '\(n.string ?? "")'", at: n)
                } else {
                    settings.tickets.rotate = d
                }
            }
        }
        return settings
    }

    private mutating func readGlobalTimeouts(_ node: Node) -> GlobalTimeouts? {
        guard let fields = readFields(of: node, path: "timeouts", owner: "timeouts", allowed: ConfigKeys.globalTimeouts) else { return nil }
        var t = GlobalTimeouts()
        if let n = fields["tls_handshake"], let d = duration(n, "timeouts.tls_handshake") { t.tlsHandshake = d }
        if let n = fields["request_head"], let d = duration(n, "timeouts.request_head") { t.requestHead = d }
        if let n = fields["shutdown"], let d = duration(n, "timeouts.shutdown", allowZero: true) { t.shutdown = d }
        if let n = fields["drain"], let d = duration(n, "timeouts.drain", allowZero: true) { t.drain = d }
        return t
    }

    // MARK: Cross checks

    private mutating func checkDuplicateNames(_ items: [(String, SourcePosition)], kind: String, section: String) {
        var first: [String: SourcePosition] = [:]
        for (i, (name, position)) in items.enumerated() {
            if let earlier = first[name] {
                diagnostics.append(.error("\(section)[\(i)]: duplicate \(kind) name '\(name)' (first defined at \(earlier))", at: position))
            } else {
                first[name] = position
            }
        }
    }

    /// L4 route names are unique in the instance: `stats` and the metrics count by route.
    private mutating func checkL4RouteNames(_ listeners: [Listener]) {
        var first: [String: SourcePosition] = [:]
        for listener in listeners {
            for (j, route) in listener.l4Routes.enumerated() {
                if let earlier = first[route.name] {
                    diagnostics.append(.error("l4_routes[\(j)] of listener '\(listener.name)': duplicate L4 route name '\(route.name)' (first defined at \(earlier))", at: route.position))
                } else {
                    first[route.name] = route.position
                }
            }
        }
    }

    private mutating func checkListenerConflicts(_ listeners: [Listener]) {
        for (j, b) in listeners.enumerated() {
            guard let bAddress = ClientAddress(b.address) else { continue }
            for a in listeners[..<j] where a.port == b.port {
                guard let aAddress = ClientAddress(a.address) else { continue }
                let conflict = aAddress == bAddress
                    || a.address == "::" || b.address == "::"
                    || (a.address == "0.0.0.0" && bAddress.family == .ipv4)
                    || (b.address == "0.0.0.0" && aAddress.family == .ipv4)
                if conflict {
                    let why = aAddress == bAddress ? "the same address and port" : "an overlapping wildcard address on the same port"
                    error(
                        "listeners[\(j)].address: listener '\(b.name)' on \(Self.endpoint(b)) conflicts with listener '\(a.name)' on \(Self.endpoint(a)) at \(a.position) (\(why))",
                        at: listenerAddressNodes[j]
                    )
                    break
                }
            }
        }
    }

    static func endpoint(_ l: Listener) -> String {
        l.address.contains(":") ? "[\(l.address)]:\(l.port)" : "\(l.address):\(l.port)"
    }

    private mutating func checkShadowing(_ rules: [PublishingRule]) {
        for (j, later) in rules.enumerated() {
            for earlier in rules[..<j] {
                guard Self.listenersInclude(earlier.listeners, later.listeners),
                      later.publicNames.allSatisfy({ n in earlier.publicNames.contains { $0.covers(n) } }),
                      later.paths.allSatisfy({ p in earlier.paths.contains { $0.covers(p) } })
                else { continue }
                let networksCovered = later.sourceNetworks.allSatisfy { n in earlier.sourceNetworks.contains { $0.covers(n) } }
                if networksCovered {
                    diagnostics.append(.error(
                        "rules[\(j)]: rule '\(later.name)' at \(later.position) is shadowed by rule '\(earlier.name)' at \(earlier.position): every request it could match is taken by '\(earlier.name)' first; move it above '\(earlier.name)' or narrow '\(earlier.name)'",
                        at: later.position
                    ))
                } else {
                    diagnostics.append(.warning(
                        "rules[\(j)]: rule '\(later.name)' at \(later.position) is never reached: rule '\(earlier.name)' at \(earlier.position) matches the same listeners, names and paths first and answers clients outside its source_networks with 403 (rules do not fall through on source); move '\(later.name)' above '\(earlier.name)'",
                        at: later.position
                    ))
                }
                break
            }
        }
    }

    /// An L4 route is chosen by the ClientHello's SNI, a rule by the Host header, and the client
    /// chooses both: a name published both ways on one listener goes to the route's farm when
    /// the SNI names it, and to the rule's farm for a client that sends another SNI (or none)
    /// and that Host — past whatever the passthrough was for (client certificates, end-to-end
    /// TLS). A warning, not an error: a name being moved from L7 to L4 has both for a while.
    /// Deny rules are left out: denying the name at L7 is the fix.
    private mutating func checkL4NamesAlsoInRules(_ config: EdgesplitConfig) {
        for (i, listener) in config.listeners.enumerated() {
            for (j, route) in listener.l4Routes.enumerated() {
                for rule in config.rules where rule.action == .allow && (rule.listeners?.contains(listener.name) ?? true) {
                    for name in route.publicNames {
                        guard let other = rule.publicNames.first(where: { $0.covers(name) || name.covers($0) }) else { continue }
                        diagnostics.append(.warning(
                            "listeners[\(i)].l4_routes[\(j)]: '\(name)' of L4 route '\(route.name)' is also matched by '\(other)' of rule '\(rule.name)' at \(rule.position) on listener '\(listener.name)': a client whose SNI is that name is passed through to farm '\(route.farm)', but one that sends another SNI (or none) with that Host reaches farm '\(rule.farm ?? "")' through the rule (SNI and Host can differ); publish the name one way, or deny it in a rule above '\(rule.name)'",
                            at: route.position
                        ))
                        break
                    }
                }
            }
        }
    }

    /// True when the listener set `outer` (nil = all) includes `inner`.
    static func listenersInclude(_ outer: [String]?, _ inner: [String]?) -> Bool {
        guard let outer else { return true }
        guard let inner else { return false }
        return inner.allSatisfy(outer.contains)
    }

    private mutating func checkUnused(_ config: EdgesplitConfig) {
        let l4Farms = Set(config.listeners.flatMap { $0.l4Routes.map(\.farm) })
        for farm in config.farms where !l4Farms.contains(farm.name) && !config.rules.contains(where: { $0.action == .allow && $0.farm == farm.name }) {
            diagnostics.append(.warning("farm '\(farm.name)' is not used by any allow rule", at: farm.position))
        }
        for listener in config.listeners where listener.l4Routes.isEmpty && !config.rules.contains(where: { $0.listeners?.contains(listener.name) ?? true }) {
            diagnostics.append(.warning("listener '\(listener.name)' is not used by any rule; every request on it gets 404", at: listener.position))
        }
    }

    static func known(_ what: String, _ names: [String]) -> String {
        names.isEmpty ? "no \(what) are defined" : "\(what) are: \(names.joined(separator: ", "))"
    }
}
