import NIOCore

/// A small Lync deployment in one process: what `edgesplit demo` publishes and what the
/// end-to-end tests run against.
///
/// It creates an in-memory internal CA, starts a Front End pool of two members (`pool-fe1`,
/// `pool-fe2`, certificates for `pool.contoso.test`) and a Director (`director`, certificate for
/// `director.contoso.test`) as TLS ``DemoBackend``s on `127.0.0.1`, makes a self-signed public
/// certificate for the published names, and renders the edgesplit configuration that publishes
/// them (``configurationYAML``). The configuration names its certificate files `demo:…`; the
/// proxy's TLS loader reads them through ``readFile(_:)``, so the demo needs no files on disk.
public final class DemoDeployment: Sendable {
    /// The demo's SIP domain. `.test` is reserved (RFC 6761) and never resolves on the Internet.
    public static let domain = "contoso.test"
    /// The public names the configuration publishes (plus `admin.`, which it denies).
    public static let publishedNames = [
        "webext.contoso.test", "webdirext.contoso.test", "meet.contoso.test",
        "dialin.contoso.test", "lyncdiscover.contoso.test",
    ]
    /// The names on the public certificate: the wildcard, each published name (Lync does not
    /// accept a wildcard alone for the external web services names) and the admin name.
    public static let publicCertificateNames = ["webext.contoso.test", "*.contoso.test"]
        + publishedNames.dropFirst() + ["admin.contoso.test"]

    /// `readFile` path of the public listener's certificate.
    public static let publicCertificatePath = "demo:public.pem"
    /// `readFile` path of the public listener's private key.
    public static let publicKeyPath = "demo:public.key"
    /// `readFile` path of the internal root CA the proxy trusts for the backends.
    public static let internalCAPath = "demo:internal-ca.pem"

    /// The port in the HTTPS listener's configuration (0 = ephemeral, chosen by the proxy).
    public let httpsPort: Int
    /// The port in the HTTP listener's configuration (0 = ephemeral, chosen by the proxy).
    public let httpPort: Int
    /// The internal CA that issued the backends' certificates.
    public let internalCA: CertificateAuthority
    /// The self-signed certificate of the public HTTPS listener.
    public let publicCertificate: IssuedCertificate
    /// The Front End pool members, `pool-fe1` and `pool-fe2`.
    public let pool: [DemoBackend]
    /// The Director.
    public let director: DemoBackend
    /// The complete edgesplit configuration, with the backends' live ports and comments.
    public let configurationYAML: String

    private let files: [String: [UInt8]]

    /// Creates the certificates, starts the backends and renders the configuration.
    ///
    /// - Parameters:
    ///   - httpsPort: port of the `https` listener in the configuration (tests pass 0).
    ///   - httpPort: port of the `http` listener in the configuration (tests pass 0).
    ///   - group: event loops for the demo backends.
    public init(httpsPort: Int = 8443, httpPort: Int = 8080, on group: any EventLoopGroup) async throws {
        let internalCA = try CertificateAuthority.make(commonName: "Contoso Internal Root CA (edgesplit demo)")
        let poolCertificate = try internalCA.issue(
            commonName: "pool.contoso.test",
            dnsNames: ["pool.contoso.test", "fe1.contoso.test", "fe2.contoso.test"],
            validityDays: 365
        )
        let directorCertificate = try internalCA.issue(
            commonName: "director.contoso.test",
            dnsNames: ["director.contoso.test"],
            validityDays: 365
        )
        let publicCertificate = try CertificateFactory.selfSigned(
            commonName: "webext.contoso.test",
            dnsNames: Self.publicCertificateNames,
            ipAddresses: ["127.0.0.1"],
            validityDays: 365
        )

        var started: [DemoBackend] = []
        do {
            for name in ["pool-fe1", "pool-fe2", "director"] {
                let certificate = name == "director" ? directorCertificate : poolCertificate
                started.append(try await DemoBackend.start(name: name, tls: certificate, on: group))
            }
        } catch {
            for backend in started { try? await backend.stop() }
            throw error
        }

        self.httpsPort = httpsPort
        self.httpPort = httpPort
        self.internalCA = internalCA
        self.publicCertificate = publicCertificate
        self.pool = Array(started[0..<2])
        self.director = started[2]
        self.configurationYAML = DemoConfiguration(
            httpsPort: httpsPort,
            httpPort: httpPort,
            poolMembers: started[0..<2].map(\.address),
            directorMembers: [started[2].address]
        ).yaml
        self.files = [
            Self.publicCertificatePath: publicCertificate.certificatePEMBytes,
            Self.publicKeyPath: publicCertificate.privateKeyPEMBytes,
            Self.internalCAPath: internalCA.root.certificatePEMBytes,
        ]
    }

    /// Every backend: the pool members, then the Director.
    public var backends: [DemoBackend] { pool + [director] }

    /// The paths ``readFile(_:)`` serves.
    public var filePaths: [String] { files.keys.sorted() }

    /// The contents of an in-memory `demo:` file (public certificate and key PEM, internal CA
    /// PEM), for the proxy's certificate loader.
    ///
    /// - Throws: ``DemoError/noSuchFile(path:available:)`` for any other path.
    public func readFile(_ path: String) throws -> [UInt8] {
        try fileReader(path)
    }

    /// ``readFile(_:)`` as a closure, the shape a certificate loader takes.
    public var fileReader: @Sendable (String) throws -> [UInt8] {
        { [files, filePaths] path in
            guard let bytes = files[path] else { throw DemoError.noSuchFile(path: path, available: filePaths) }
            return bytes
        }
    }

    /// What to tell the user next to the curl commands.
    public static let curlNote =
        "These commands use -k because the demo's public certificate is self-signed and made at start-up; "
        + "--resolve sends the demo names to 127.0.0.1 without DNS. Never use -k against a real server."

    /// One ready-to-paste curl command per scenario, for the configured ports.
    public var curlExamples: [String] { scenarios().map(\.command) }

    /// The scenarios to try, for the ports the proxy actually bound (pass them when the
    /// configuration asked for ephemeral ports).
    ///
    /// The commands use `-k` because the public certificate is the demo's self-signed one
    /// (never do that against a real server), and `--resolve` so no DNS or hosts entry is needed.
    public func scenarios(httpsPort: Int? = nil, httpPort: Int? = nil) -> [DemoScenario] {
        let https = httpsPort ?? self.httpsPort
        let http = httpPort ?? self.httpPort
        func get(_ name: String, _ path: String, extra: String = "") -> String {
            "curl -sS -i -k\(extra) --resolve \(name):\(https):127.0.0.1 'https://\(name):\(https)\(path)'"
        }
        return [
            DemoScenario(
                title: "Meeting join page through the meet simple URL",
                expectation: "200 text/html from X-Demo-Member: director, Host meet.contoso.test forwarded unchanged",
                command: get("meet.contoso.test", "/alice/F3K9Q2ZT")
            ),
            DemoScenario(
                title: "Dial-in page through the dialin simple URL",
                expectation: "200 text/html from X-Demo-Member: director",
                command: get("dialin.contoso.test", "/")
            ),
            DemoScenario(
                title: "Address Book under Windows authentication",
                expectation: "401 with two WWW-Authenticate lines (NTLM, Negotiate) from a pool member",
                command: get("webext.contoso.test", "/abs/handler/C-1234-5678.lsabs")
            ),
            DemoScenario(
                title: "Address Book NTLM handshake (connection-bound, demo credentials)",
                expectation: "401 with an NTLM challenge, then 200 on the same connection",
                command: get("webext.contoso.test", "/abs/handler/C-1234-5678.lsabs", extra: " --ntlm -u 'alice:demo'")
            ),
            DemoScenario(
                title: "Autodiscover on the pool's external web services",
                expectation: "200 JSON whose links use https://webext.contoso.test",
                command: get("webext.contoso.test", "/Autodiscover/AutodiscoverService.svc/root")
            ),
            DemoScenario(
                title: "UCWA event channel long poll (held 3 s by the Front End)",
                expectation: "200 {\"events\":[]...} after about 3 seconds",
                command: get("webext.contoso.test", "/ucwa/v1/applications/101/events?ack=1&timeout=3")
            ),
            DemoScenario(
                title: "Autodiscover over plain HTTP (lyncdiscover)",
                expectation: "200 JSON from X-Demo-Member: director",
                command: "curl -sS -i --resolve lyncdiscover.contoso.test:\(http):127.0.0.1 "
                    + "'http://lyncdiscover.contoso.test:\(http)/?sipuri=alice@contoso.test'"
            ),
            DemoScenario(
                title: "The admin simple URL is internal only",
                expectation: "403 from edgesplit (rule block-admin); no backend is contacted",
                command: get("admin.contoso.test", "/")
            ),
            DemoScenario(
                title: "A name no rule publishes",
                expectation: "404 from edgesplit; no backend is contacted",
                command: get("unknown.contoso.test", "/")
            ),
        ]
    }

    /// Stops every backend.
    public func stop() async throws {
        for backend in backends {
            try await backend.stop()
        }
    }
}
