import ArgumentParser
import Proxy
import Publishing

/// `edgesplit check`: everything `serve` would refuse, without binding anything.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration: syntax, references, rules, certificates and keys.",
        discussion: "Prints each problem as file:line:column: severity: message. Exits 1 on errors, 0 otherwise (warnings are printed)."
    )

    @Option(name: .shortAndLong, help: "The configuration file.")
    var config: String

    func run() throws {
        do {
            let loaded = try ConfigurationFile.load(path: config)
            let runtime = try ConfigurationFile.compile(loaded)
            let c = runtime.config
            print("\(config): OK: \(c.listeners.count) listeners, \(c.farms.count) farms, \(c.rules.count) rules")
        } catch is ConfigurationFile.Invalid {
            throw ExitCode(1)
        }
    }
}
