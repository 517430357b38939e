import Publishing
import XCTest

/// Each broken configuration yields exactly these diagnostics (`line:column: severity: message`).
final class DiagnosticTests: XCTestCase {
    func check(_ yaml: String, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        let result = load(yaml)
        XCTAssertEqual(result.diagnostics.map(\.description), expected.map { "edgesplit.yaml:" + $0 }, file: file, line: line)
        if expected.contains(where: { $0.contains(": error: ") }) {
            XCTAssertNil(result.config, "a configuration with errors is not returned", file: file, line: line)
        } else {
            XCTAssertNotNil(result.config, file: file, line: line)
        }
    }

    func testDescriptionFormat() {
        let d = ConfigDiagnostic.error("boom", at: SourcePosition(file: "a.yaml", line: 3, column: 7))
        XCTAssertEqual(d.description, "a.yaml:3:7: error: boom")
        XCTAssertEqual(ConfigDiagnostic.warning("hm", at: d.position).description, "a.yaml:3:7: warning: hm")
    }

    func testYAMLSyntaxErrorCarriesYamsPosition() {
        check("""
        listeners:
          - name: https
            port: 443
           address: 0.0.0.0
        """, ["4:4: error: invalid YAML: did not find expected '-' indicator (while parsing a block collection at line 2, column 3)"])
    }

    func testUnquotedWildcardGetsAHint() {
        check("""
        listeners:
          - { name: https, address: 0.0.0.0, port: 443 }
        farms:
          - { name: pool01, members: ["10.0.0.11:4443"] }
        rules:
          - { name: a, public_names: [*.contoso.com], farm: pool01 }
        """, [
            "6:32: error: invalid YAML: did not find expected alphabetic or numeric character (while scanning an alias at line 6, column 31); a name starting with '*' must be quoted, as in \"*.contoso.com\"",
        ])
    }

    func testControlCharacterIsAReaderError() {
        let result = load("instance: é\u{1}\n")
        XCTAssertEqual(result.diagnostics.map(\.position), [pos(1, 12)])
        XCTAssertEqual(result.diagnostics.first?.message.hasPrefix("invalid YAML: "), true)
    }

    func testDuplicateKeyEmptyAndNonMappingDocuments() {
        check("listeners:\n  - { name: https, address: 0.0.0.0, port: 443, port: 80 }\n",
              ["2:38: error: duplicate key 'port' in one mapping; each key may appear once"])
        check("", ["1:1: error: the configuration is empty; expected a mapping with listeners, farms and rules"])
        check("# only a comment\n", ["1:1: error: the configuration is empty; expected a mapping with listeners, farms and rules"])
        check("- a\n- b\n", ["1:1: error: the configuration: expected a mapping of instance, workers, affinity, access_log, listeners, farms, rules, http, http2, timeouts, admin, tls, limits, got a list"])
    }

    func testWrongTypes() {
        check("""
        workers: many
        listeners: https
        farms:
          - name: pool01
            members: "10.0.0.11:4443"
        rules:
          - name: webext
            public_names: [webext.contoso.com]
            farm: pool01
            forward_original_host: maybe
            timeouts: 5s
        """, [
            "1:10: error: workers: expected an integer 1...64, got 'many'",
            "2:12: error: listeners: expected a list, got 'https' (write [https])",
            "5:14: error: farms[0].members: expected a list, got '10.0.0.11:4443' (write [10.0.0.11:4443])",
            "10:28: error: rules[0].forward_original_host: expected true or false, got 'maybe'",
            "11:15: error: rules[0].timeouts: expected a mapping of connect, response, idle, got '5s'",
        ])
    }

    func testUnknownKeysSuggestTheClosestKey() {
        check("""
        listner: []
        listeners:
          - { name: https, address: 0.0.0.0, port: 443, tsl: {} }
        farms:
          - { name: pool01, members: ["10.0.0.11:4443"], persistance: cookie }
        rules:
          - name: webext
            public_name: [webext.contoso.com]
            farm: pool01
            zzzz: 1
        """, [
            "1:1: error: unknown key 'listner' at the top level (did you mean 'listeners'?)",
            "3:49: error: unknown key 'tsl' in listener 'https' (expected one of name, address, port, tls, l4_routes)",
            "5:50: error: unknown key 'persistance' in farm 'pool01' (did you mean 'persistence'?)",
            "7:5: error: rules[0]: missing required key 'public_names' (expected a list of host names like webext.contoso.com)",
            "8:5: error: unknown key 'public_name' in rule 'webext' (did you mean 'public_names'?)",
            "10:5: error: unknown key 'zzzz' in rule 'webext' (expected one of name, listeners, public_names, paths, farm, action, forward_original_host, source_networks, timeouts, max_body, limits)",
        ])
    }

    func testMissingRequiredKeys() {
        check("""
        farms:
          - { members: ["10.0.0.11:4443"] }
          - name: pool01
        """, [
            "1:1: error: missing required key 'listeners' (expected a list of listeners)",
            "1:1: error: missing required key 'rules' (expected a list of publishing rules)",
            "2:5: error: farms[0]: missing required key 'name' (expected a farm name)",
            "3:5: error: farms[1]: missing required key 'members' (expected a list of host:port members)",
        ])
        check("""
        listeners:
          - { name: https, address: 0.0.0.0, port: }
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules: []
        """, [
            "2:38: error: listeners[0].port: expected an integer 1...65535, got nothing",
            "3:9: warning: farm 'pool01' is not used by any allow rule",
            "4:8: error: rules: the list is empty; expected at least one publishing rule",
        ])
    }

    func testMissingReferences() {
        check("""
        listeners:
          - { name: https, address: 0.0.0.0, port: 443 }
        farms:
          - { name: pool01, members: ["10.0.0.11:4443"] }
          - { name: owas, members: ["10.0.0.21:443"] }
        rules:
          - { name: a, public_names: [a.contoso.com], farm: pool01 }
          - { name: b, public_names: [b.contoso.com], farm: owas }
          - { name: c, listeners: [htps], public_names: [c.contoso.com], farm: pool02 }
        """, [
            "9:28: error: rules[2].listeners[0]: unknown listener 'htps' (listeners are: https)",
            "9:72: error: rules[2].farm: unknown farm 'pool02' (farms are: pool01, owas)",
        ])
    }

    func testDuplicateNamesAndListenerConflicts() {
        check("""
        listeners:
          - { name: https, address: 0.0.0.0, port: 443 }
          - { name: https, address: 0.0.0.0, port: 8443 }
          - { name: alt, address: 192.0.2.1, port: 443 }
          - { name: v6, address: "::", port: 80 }
          - { name: v4, address: 127.0.0.1, port: 80 }
          - { name: lo, address: "[::1]", port: 8443 }
          - { name: again, address: "::1", port: 8443 }
        farms:
          - { name: pool01, members: ["10.0.0.11:4443"] }
          - { name: pool01, members: ["10.0.0.12:4443"] }
        rules:
          - { name: a, public_names: [a.contoso.com], farm: pool01 }
          - { name: a, public_names: [b.contoso.com], farm: pool01 }
        """, [
            "3:5: error: listeners[1]: duplicate listener name 'https' (first defined at edgesplit.yaml:2:5)",
            "4:27: error: listeners[2].address: listener 'alt' on 192.0.2.1:443 conflicts with listener 'https' on 0.0.0.0:443 at edgesplit.yaml:2:5 (an overlapping wildcard address on the same port)",
            "6:26: error: listeners[4].address: listener 'v4' on 127.0.0.1:80 conflicts with listener 'v6' on [::]:80 at edgesplit.yaml:5:5 (an overlapping wildcard address on the same port)",
            "8:29: error: listeners[6].address: listener 'again' on [::1]:8443 conflicts with listener 'lo' on [::1]:8443 at edgesplit.yaml:7:5 (the same address and port)",
            "11:5: error: farms[1]: duplicate farm name 'pool01' (first defined at edgesplit.yaml:10:5)",
            "14:5: error: rules[1]: duplicate rule name 'a' (first defined at edgesplit.yaml:13:5)",
        ])
    }

    func testListenerAddressesAreCanonical() {
        let config = try? loadValid("""
        listeners:
          - { name: a, address: "[::]", port: 443 }
          - { name: b, address: "2001:DB8:0::1", port: 8443 }
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules: [{ name: r, public_names: [a.contoso.com], farm: pool01 }]
        """)
        XCTAssertEqual(config?.listeners.map(\.address), ["::", "2001:db8::1"])
        XCTAssertEqual(config?.listeners.first?.isWildcard, true)
        check("""
        listeners:
          - { name: a, address: "::", port: 443 }
          - { name: b, address: "0:0::0", port: 443 }
          - { name: c, address: "::ffff:192.0.2.1", port: 80 }
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules: [{ name: r, public_names: [a.contoso.com], farm: pool01 }]
        """, [
            "3:25: error: listeners[1].address: listener 'b' on [::]:443 conflicts with listener 'a' on [::]:443 at edgesplit.yaml:2:5 (the same address and port)",
            "4:25: error: listeners[2].address: '::ffff:192.0.2.1' is an IPv4-mapped address; listen on 192.0.2.1 instead",
        ])
    }

    func testBadScalarValues() {
        check("""
        instance: Contoso!
        workers: 0
        affinity: { ipv4_prefix: 33, seed: 4294967296, balance_factor: 0.8 }
        access_log: { path: /x, format: xml }
        listeners:
          - { name: https, address: localhost, port: 99999 }
          - { name: b, address: "::1", port: 0 }
        farms:
          - { name: pool01, members: ["10.0.0.11:4443"], persistence: sticky }
        rules:
          - name: webext
            farm: pool01
            public_names: [webext.contoso.com]
            action: maybe
            timeouts: { connect: 5 seconds, response: 0s, idle: 25h }
            max_body: 5PB
        http: { max_request_line: 1, max_header_bytes: 64 }
        timeouts: { tls_handshake: -1, request_head: 99999999999999999999 }
        """, [
            "1:11: error: instance: expected a name matching [a-z0-9][a-z0-9_-]{0,31}, got 'Contoso!'",
            "2:10: error: workers: expected an integer 1...64, got '0'",
            "3:26: error: affinity.ipv4_prefix: expected an integer 1...32, got '33'",
            "3:36: error: affinity.seed: expected an integer 0...4294967295, got '4294967296'",
            "3:64: error: affinity.balance_factor: expected a number 1...100 with at most three decimals (for example 1.25), got '0.8'",
            "4:33: error: access_log.format: expected one of w3c, json, got 'xml'",
            "6:29: error: listeners[0].address: expected an IPv4 or IPv6 address like 0.0.0.0 or ::, got 'localhost'",
            "6:46: error: listeners[0].port: expected an integer 1...65535, got '99999'",
            "7:38: error: listeners[1].port: expected an integer 1...65535, got '0'",
            "9:63: error: farms[0].persistence: expected one of source, cookie, none, got 'sticky'",
            "14:13: error: rules[0].action: expected one of allow, deny, got 'maybe'",
            "15:26: error: rules[0].timeouts.connect: expected a duration like 500ms, 5s, 15m or 1h, got '5 seconds'",
            "15:47: error: rules[0].timeouts.response: expected a duration between 1ms and 24h, got '0s'",
            "15:57: error: rules[0].timeouts.idle: expected a duration between 1ms and 24h, got '25h'",
            "16:15: error: rules[0].max_body: expected a size like 65536, 64KiB, 500MiB or 1GB, got '5PB'",
            "17:27: error: http.max_request_line: expected a size between 256 and 1048576 bytes, got '1'",
            "17:48: error: http.max_header_bytes: expected a size between 1024 and 16777216 bytes, got '64'",
            "18:28: error: timeouts.tls_handshake: expected a duration like 500ms, 5s, 15m or 1h, got '-1'",
            "18:46: error: timeouts.request_head: expected a duration like 500ms, 5s, 15m or 1h, got '99999999999999999999'",
        ])
    }

    func testBadMembersAndEmptyFarm() {
        check("""
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms:
          - { name: pool01, members: ["fe2", "2001:db8::1:4443", "[2001:db8::1]:4443", "fe1:70000", "bad_host!:1"] }
          - { name: empty, members: [] }
        rules:
          - { name: webext, public_names: [webext.contoso.com], farm: pool01 }
        """, [
            "3:31: error: farms[0].members[0]: expected host:port like 10.0.0.11:4443, fe1.contoso.local:4443 or [2001:db8::1]:4443, got 'fe2'",
            "3:38: error: farms[0].members[1]: '2001:db8::1:4443': write an IPv6 member in brackets, as in [2001:db8::1]:4443",
            "3:80: error: farms[0].members[3]: 'fe1:70000': expected a port 1...65535 after the last ':'",
            "3:93: error: farms[0].members[4]: 'bad_host!:1': 'bad_host!' contains '!'; a host name has letters, digits, '-' and '.' only",
            "4:29: error: farms[1].members: farm 'empty' has no members; expected at least one host:port",
        ])
    }

    func testBadHostPatternsPathsAndNetworks() {
        check("""
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules:
          - name: webext
            public_names: ["web*.contoso.com", "a..b.com", "*.", "we b.com", "", "999.1.1.1", "2001:db8::1"]
            paths: ["abs/*", "/abs*", "/a/*/b", "/q?x", "/x//*"]
            source_networks: ["10.1.2.3/8", "10.0.0.0/33", "banana", "2001:db8::1/32"]
            farm: pool01
        """, [
            "5:20: error: rules[0].public_names[0]: 'web*.contoso.com': a wildcard is only allowed as the whole first label, as in '*.contoso.com'",
            "5:40: error: rules[0].public_names[1]: 'a..b.com' has an empty label",
            "5:52: error: rules[0].public_names[2]: '*.': a wildcard needs a domain after it, as in '*.contoso.com'",
            "5:58: error: rules[0].public_names[3]: 'we b.com' contains ' '; a host name has letters, digits, '-' and '.' only",
            "5:70: error: rules[0].public_names[4]: expected a host name like webext.contoso.com, got ''",
            "5:74: error: rules[0].public_names[5]: '999.1.1.1' is not a valid IPv4 address",
            "5:87: error: rules[0].public_names[6]: '2001:db8::1': write an IPv6 address in brackets ('[2001:db8::1]'); a public name has no port",
            "6:13: error: rules[0].paths[0]: 'abs/*': a path starts with '/', as in '/*' or '/abs/*'",
            "6:22: error: rules[0].paths[1]: '/abs*': '*' is only allowed as a trailing '/*', as in '/abs/*'",
            "6:31: error: rules[0].paths[2]: '/a/*/b': '*' is only allowed as a trailing '/*', as in '/abs/*'",
            "6:41: error: rules[0].paths[3]: '/q?x': a path pattern has no query or fragment",
            "6:49: error: rules[0].paths[4]: '/x//*' has an empty segment before '/*' (did you mean '/x/*'?)",
            "7:23: error: rules[0].source_networks[0]: '10.1.2.3/8' has host bits set (did you mean 10.0.0.0/8?)",
            "7:37: error: rules[0].source_networks[1]: '10.0.0.0/33': expected a prefix length 0...32 after '/'",
            "7:52: error: rules[0].source_networks[2]: expected a network like 10.0.0.0/8, 2001:db8::/32 or an address, got 'banana'",
            "7:62: error: rules[0].source_networks[3]: '2001:db8::1/32' has host bits set (did you mean 2001:db8::/32?)",
        ])
    }

    func testFarmOnDenyRuleIsIgnoredAndAllowRuleNeedsOne() {
        check("""
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules:
          - { name: ok, public_names: [a.contoso.com], farm: pool01 }
          - { name: block, public_names: [admin.contoso.com], farm: pool01, action: deny }
        """, ["5:61: warning: rules[1].farm: ignored; rule 'block' denies its requests"])
        check("""
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules:
          - { name: ok, public_names: [a.contoso.com], farm: pool01 }
          - name: nofarm
            public_names: [b.contoso.com]
        """, ["5:5: error: rules[1].farm: missing; rule 'nofarm' allows requests and needs a farm (farms are: pool01)"])
    }

    func testListenerTLSMistakes() {
        check("""
        listeners:
          - name: https
            address: 0.0.0.0
            port: 443
            tls:
              certificates:
                - { cert: /a.pem }
                - { cert: /a.pem, key: /a.key, pfx: /a.pfx }
                - { key: /a.key }
                - {}
                - { cert: /a.pem, key: /a.key, password_file: /p }
              min_version: "1.1"
          - { name: t2, address: 0.0.0.0, port: 8443, tls: { certificates: [] } }
          - { name: t3, address: 0.0.0.0, port: 9443, tls: { min_version: "1.3" } }
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules: [{ name: a, public_names: [a.contoso.com], farm: pool01 }]
        """, [
            "7:11: error: listeners[0].tls.certificates[0]: 'cert' needs 'key' (the PEM private key file)",
            "8:11: error: listeners[0].tls.certificates[1]: expected either cert and key, or pfx, not both",
            "9:11: error: listeners[0].tls.certificates[2]: 'key' needs 'cert' (the PEM certificate chain file)",
            "10:11: error: listeners[0].tls.certificates[3]: expected cert and key (PEM files), or pfx (a PKCS#12 file)",
            "11:55: error: listeners[0].tls.certificates[4].password_file: only used with pfx; a PEM key is read unencrypted",
            "12:20: error: listeners[0].tls.min_version: expected one of 1.2, 1.3, got '1.1' (did you mean '1.2'?)",
            "13:68: error: listeners[1].tls.certificates: the list is empty; a TLS listener needs at least one certificate",
            "14:52: error: listeners[2].tls: missing required key 'certificates' (expected a list of certificates)",
        ])
    }

    func testFarmTLSWarningsAndErrors() {
        check("""
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms:
          - name: pool01
            members: ["10.0.0.11:4443"]
            tls: { verify: false }
            cookie_name: EDGE
        rules: [{ name: a, public_names: [a.contoso.com], farm: pool01 }]
        """, [
            "5:20: warning: farms[0].tls.verify: certificate verification toward farm 'pool01' is off; anyone on the path to its members can read and change the traffic",
            "6:18: warning: farms[0].cookie_name: ignored unless persistence is cookie (it is source)",
        ])
        check("""
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms: [{ name: pool01, members: ["10.0.0.11:4443"], tls: { server_name: "*.x" }, cookie_name: "a b" }]
        rules: [{ name: a, public_names: [a.contoso.com], farm: pool01 }]
        """, [
            "2:74: error: farms[0].tls.server_name: expected a host name like pool01.contoso.local: '*.x' is not a host name",
            "2:96: error: farms[0].cookie_name: expected a cookie name (letters, digits and !#$%&'*+-.^_`|~), got 'a b'",
        ])
    }

    func testUnusedFarmAndListenerWarnings() {
        check("""
        listeners:
          - { name: https, address: 0.0.0.0, port: 443 }
          - { name: spare, address: 0.0.0.0, port: 8443 }
        farms:
          - { name: pool01, members: ["10.0.0.11:4443"] }
          - { name: owas, members: ["10.0.0.21:443"] }
        rules:
          - { name: webext, listeners: [https], public_names: [webext.contoso.com], farm: pool01 }
        """, [
            "3:5: warning: listener 'spare' is not used by any rule; every request on it gets 404",
            "6:5: warning: farm 'owas' is not used by any allow rule",
        ])
    }

    func testDuplicateMemberWarns() {
        check("""
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms: [{ name: pool01, members: ["10.0.0.11:4443", "FE1.contoso.local:4443", "fe1.contoso.local:4443"] }]
        rules: [{ name: a, public_names: [a.contoso.com], farm: pool01 }]
        """, ["2:79: warning: farms[0].members[2]: 'fe1.contoso.local:4443' is already a member at edgesplit.yaml:2:53; it would get a double share"])
    }

    func testObjectNames() {
        check("""
        listeners: [{ name: "web ext", address: 0.0.0.0, port: 443 }]
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules: [{ name: a, public_names: [a.contoso.com], farm: pool01 }]
        """, ["1:21: error: listeners[0].name: expected a listener name of letters, digits, '-', '_' and '.' (at most 64), got 'web ext'"])
    }

    func testAliasesAreFineAsValuesButNotAsComplexKeys() {
        // Reusing a timeouts block through an alias is ordinary YAML.
        let config = try? loadValid("""
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules:
          - { name: a, public_names: [a.contoso.com], farm: pool01, timeouts: &lync { response: 900s } }
          - { name: b, public_names: [b.contoso.com], farm: pool01, timeouts: *lync }
        """)
        XCTAssertEqual(config?.rules.map(\.timeouts.response), [.seconds(900), .seconds(900)])
        // Top-level x- keys are ignored, so anchors can be defined there.
        let shared = try? loadValid("""
        x-lync-names: &names [webext.contoso.com, meet.contoso.com]
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules: [{ name: a, public_names: *names, farm: pool01 }]
        """)
        XCTAssertEqual(shared?.rules.first?.publicNames.map(\.text), ["webext.contoso.com", "meet.contoso.com"])
        check("""
        a: &a [x, x, x, x, x, x, x, x, x]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        ? *b
        : 1
        """, ["3:1: error: complex mapping keys cannot be combined with aliases; write keys as plain names"])
    }
}
