import ArgumentParser
import Forwarding
import Proxy
import Publishing

/// `edgesplit check`: everything `serve` would refuse, without binding anything.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration: syntax, references, rules, certificates and keys.",
        discussion: """
            Prints each problem as file:line:column: severity: message. Exits 1 on errors, 0 otherwise (warnings are printed). \
            A configuration that publishes Lync or Skype for Business (a lyncdiscover., meet. or dialin. name, or a TLS \
            farm member on 4443) is also checked against the Lync publishing requirements: those findings read \
            "severity: lync: rule 'NAME': reason; users see: symptom [kind]".
            """
    )

    @Option(name: .shortAndLong, help: "The configuration file.")
    var config: String

    func run() throws {
        do {
            let loaded = try ConfigurationFile.load(path: config)
            let runtime = try ConfigurationFile.compile(loaded)
            let c = runtime.config
            let findings = LyncCheck(config: c, certificates: runtime.certificateFacts).findings
            for finding in findings { Stderr.line(finding.description) }
            if findings.contains(where: { $0.severity == .error }) { throw ExitCode(1) }
            let routes = c.l4Routes.count
            print("\(config): OK: \(c.listeners.count) listeners, \(c.farms.count) farms, \(c.rules.count) rules\(routes > 0 ? ", \(routes) L4 routes" : "")")
        } catch is ConfigurationFile.Invalid {
            throw ExitCode(1)
        }
    }
}

extension RuntimeConfiguration {
    /// What the Lync check needs to know about each listener certificate.
    var certificateFacts: [ListenerCertificateFacts] {
        listenerCertificates.enumerated().flatMap { index, certificates in
            (certificates?.entries ?? []).map {
                ListenerCertificateFacts(listenerIndex: index, names: $0.names, subject: $0.subject, position: $0.source.position)
            }
        }
    }
}
