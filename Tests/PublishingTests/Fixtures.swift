import Publishing
import XCTest

/// The example configuration of the issue, verbatim.
let exampleYAML = """
instance: contoso            # names the pinned maps and the control socket; default "edgesplit"; [a-z0-9][a-z0-9_-]{0,31}
workers: 2                   # event loops; default = CPUs (nil in the model); 1...64
affinity: { ipv4_prefix: 32, ipv6_prefix: 128, seed: 1234 }   # defaults 32, 128, 0; seed 0...4294967295
access_log: { path: /var/log/edgesplit/access.log, format: w3c }   # or json; path "-" = stdout; absent = no access log
listeners:
  - name: https
    address: 0.0.0.0         # IPv4 or IPv6 literal; "::" = dual stack
    port: 443
    tls:
      certificates:
        - { cert: /etc/edgesplit/webext.pem, key: /etc/edgesplit/webext.key }
        - { pfx: /etc/edgesplit/meet.pfx, password_file: /etc/edgesplit/meet.pass }
      min_version: "1.2"     # "1.2" (default) or "1.3"
  - { name: http, address: 0.0.0.0, port: 80 }
farms:
  - name: pool01
    members: [ "10.0.0.11:4443", "fe2.contoso.local:4443" ]    # host:port, IPv6 as "[2001:db8::1]:4443"
    tls: { ca: /etc/edgesplit/internal-root.pem, server_name: pool01.contoso.local }  # absent = plain HTTP; also `verify: false` (default true) allowed but produces a warning
    persistence: source      # source (default) | cookie | none
    cookie_name: MS-WSMAN    # only with cookie; default MS-WSMAN
rules:                       # evaluated in order, first match wins
  - name: webext
    listeners: [https]                       # default: all listeners
    public_names: [webext.contoso.com]       # exact, or "*.contoso.com" (leading wildcard label only); required, non-empty
    paths: ["/*"]                            # "/*" all, "/abs/*" prefix, "/meet" exact; default ["/*"]
    farm: pool01                             # required unless action: deny
    action: allow                            # allow (default) | deny
    forward_original_host: true              # default true
    source_networks: ["0.0.0.0/0", "::/0"]   # default: any
    timeouts: { connect: 5s, response: 960s, idle: 1800s }   # defaults 5s, 960s, 1800s (Lync-safe)
    max_body: 500MiB                         # optional request body limit; default unlimited
  - { name: block-admin, public_names: [admin.contoso.com], paths: ["/*"], action: deny }
http:                        # optional, global
  max_request_line: 16KiB    # default 16 KiB
  max_header_bytes: 64KiB    # default 64 KiB
timeouts:                    # optional, global
  tls_handshake: 10s         # default 10s
  request_head: 30s          # default 30s (slowloris cut)
  shutdown: 30s              # default 30s: in-flight requests get this long on SIGTERM
"""

/// A small valid configuration that tests extend.
let minimalYAML = """
listeners:
  - { name: https, address: 0.0.0.0, port: 443 }
farms:
  - { name: pool01, members: ["10.0.0.11:4443"] }
rules:
  - { name: webext, public_names: [webext.contoso.com], farm: pool01 }
"""

func load(_ yaml: String, file: String = "edgesplit.yaml") -> ConfigLoadResult {
    ConfigLoader.load(yaml: yaml, file: file)
}

/// Loads a configuration that must be valid (warnings allowed).
func loadValid(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) throws -> EdgesplitConfig {
    let result = load(yaml)
    guard let config = result.config else {
        XCTFail("unexpected errors:\n" + result.diagnostics.map(\.description).joined(separator: "\n"), file: file, line: line)
        throw XCTSkip("invalid configuration")
    }
    return config
}

func pos(_ line: Int, _ column: Int, file: String = "edgesplit.yaml") -> SourcePosition {
    SourcePosition(file: file, line: line, column: column)
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
