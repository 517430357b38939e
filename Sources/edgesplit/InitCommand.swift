import ArgumentParser
import Foundation
import Publishing

/// `edgesplit init …`: write a starting configuration for a known deployment.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a complete, commented configuration for a known deployment.",
        subcommands: [Lync.self]
    )

    /// `edgesplit init lync`: the TMG-style rule set for Lync Server 2010/2013 and Skype for Business.
    struct Lync: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lync",
            abstract: "Configuration publishing Lync / Skype for Business external web services.",
            discussion: """
                One rule per Front End pool and Director external web services FQDN (/*), /DataCollabWeb/* \
                with 500 MB bodies before each pool rule, the simple URLs and lyncdiscover.<domain> to the \
                first Director (else the first pool), Office Web Apps on its own, the admin simple URL denied. \
                Members default to port 4443 (8080 for HTTP autodiscover; 443 for Office Web Apps) and are \
                verified against --internal-ca by the external FQDN, or by --server-name EXTERNAL_FQDN=NAME \
                when the Front End certificate names the pool's internal FQDN only.

                Example:
                  edgesplit init lync --sip-domain contoso.com \\
                    --pool webext.contoso.com=fe1.contoso.local,fe2.contoso.local \\
                    --director webdirext.contoso.com=dir1.contoso.local \\
                    --certificate /etc/edgesplit/public.pem --key /etc/edgesplit/public.key \\
                    --internal-ca /etc/edgesplit/internal-root.pem --output /etc/edgesplit/edgesplit.yaml
                """
        )

        @Option(name: .customLong("sip-domain"), help: "A SIP domain (repeatable), e.g. contoso.com.")
        var sipDomains: [String] = []

        @Option(name: .customLong("pool"), help: "A Front End pool: EXTERNAL_FQDN=MEMBER[,MEMBER…] (repeatable); member host[:port], port 4443 by default.")
        var pools: [String] = []

        @Option(name: .customLong("director"), help: "A Director (pool): EXTERNAL_FQDN=MEMBER[,MEMBER…] (repeatable).")
        var directors: [String] = []

        @Option(name: .customLong("meet"), help: "A meet simple URL host (repeatable); default meet.<each SIP domain>.")
        var meet: [String] = []

        @Option(name: .customLong("dialin"), help: "The dial-in simple URL host; default dialin.<first SIP domain>.")
        var dialin: String?

        @Option(name: .customLong("office-web-apps"), help: "Office Web Apps Server: EXTERNAL_FQDN=MEMBER[,MEMBER…] (port 443 by default).")
        var officeWebApps: [String] = []

        @Option(name: .customLong("server-name"), help: "EXTERNAL_FQDN=NAME: verify that site's members by NAME (e.g. the pool's internal FQDN) instead of EXTERNAL_FQDN (repeatable).")
        var serverNames: [String] = []

        @Option(help: "The listener certificate (PEM chain).")
        var certificate: String?

        @Option(help: "The listener certificate's private key (PEM).")
        var key: String?

        @Option(help: "The listener certificate and key as a PKCS#12 file.")
        var pfx: String?

        @Option(name: .customLong("password-file"), help: "A file holding the PKCS#12 password.")
        var passwordFile: String?

        @Option(name: .customLong("internal-ca"), help: "PEM of the internal CA that issued the Front End and Director certificates.")
        var internalCA: String?

        @Flag(name: .customLong("lync2010"), help: "Lync Server 2010 pools: cookie persistence (MS-WSMAN) on pools and Directors, keyed by a random cookie_key written into the file (copy the file to every edge host).")
        var lync2010 = false

        @Flag(name: .customLong("http-autodiscover"), help: "Publish lyncdiscover.<domain> over HTTP too (port 80 → 8080), first in order.")
        var httpAutodiscover = false

        @Option(help: "The address the listeners bind (IPv4 or IPv6 literal).")
        var listen: String = "0.0.0.0"

        @Option(name: .customLong("https-port"), help: "The HTTPS listener's port.")
        var httpsPort: Int = 443

        @Option(name: .customLong("http-port"), help: "The HTTP listener's port (with --http-autodiscover).")
        var httpPort: Int = 80

        @Option(help: "The instance name (names the pinned BPF maps).")
        var instance: String?

        @Option(name: .customLong("access-log"), help: "The access log file; \"-\" = standard output.")
        var accessLog: String = "-"

        @Option(name: .shortAndLong, help: "Write the configuration to this file instead of standard output.")
        var output: String?

        func run() throws {
            let yaml: String
            do {
                yaml = try LyncTemplate(deployment()).render(command: commandLine())
            } catch let error as LyncDeploymentError {
                throw Stderr.failure("init lync: \(error.message)")
            }
            guard let output else {
                print(yaml, terminator: "")
                return
            }
            do {
                try yaml.write(toFile: output, atomically: true, encoding: .utf8)
            } catch {
                throw Stderr.failure("cannot write '\(output)': \(error.localizedDescription)")
            }
            Stderr.line("edgesplit: wrote \(output); next: edgesplit check --config \(output)")
        }

        func deployment() throws -> LyncDeployment {
            let certificateSource: LyncDeployment.ListenerCertificate
            switch (certificate, key, pfx) {
            case (let cert?, let key?, nil):
                if passwordFile != nil { throw LyncDeploymentError("--password-file goes with --pfx, not --certificate") }
                certificateSource = .pem(cert: cert, key: key)
            case (nil, nil, let pfx?):
                certificateSource = .pfx(path: pfx, passwordFile: passwordFile)
            case (_?, nil, nil):
                throw LyncDeploymentError("--certificate needs --key (the PEM private key)")
            case (nil, _?, nil):
                throw LyncDeploymentError("--key needs --certificate (the PEM certificate chain)")
            case (nil, nil, nil):
                throw LyncDeploymentError("give the listener certificate: --certificate PEM --key PEM, or --pfx FILE [--password-file FILE]")
            default:
                throw LyncDeploymentError("give either --certificate and --key, or --pfx, not both")
            }
            var overrides: [String: String] = [:]
            for text in serverNames {
                let (external, name) = try LyncDeployment.parseServerName(text)
                overrides[external] = name
            }
            func sites(_ values: [String], flag: String) throws -> [LyncDeployment.Site] {
                try values.map { text in
                    var site = try LyncDeployment.parseSite(text, flag: flag)
                    if let name = overrides.removeValue(forKey: site.externalName) { site.serverName = name }
                    return site
                }
            }
            let poolSites = try sites(pools, flag: "--pool")
            let directorSites = try sites(directors, flag: "--director")
            let owaSites = try sites(officeWebApps, flag: "--office-web-apps")
            if let unused = overrides.keys.sorted().first {
                throw LyncDeploymentError("--server-name '\(unused)=…': no --pool, --director or --office-web-apps has that external FQDN")
            }
            return try LyncDeployment(
                sipDomains: sipDomains, pools: poolSites, directors: directorSites, meetNames: meet.isEmpty ? nil : meet,
                dialinName: dialin, officeWebApps: owaSites, certificate: certificateSource, internalCA: internalCA,
                lync2010: lync2010, httpAutodiscover: httpAutodiscover, listenAddress: listen, httpsPort: httpsPort,
                httpPort: httpPort, instance: instance, accessLog: accessLog
            )
        }

        /// The command as typed, for the file's header (paths included, no secrets: the
        /// password is only ever named by its file).
        func commandLine() -> String {
            "edgesplit " + CommandLine.arguments.dropFirst().map { arg in
                arg.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,@".contains($0) } ? arg : "'\(arg)'"
            }.joined(separator: " ")
        }
    }
}
