import Admin
import ArgumentParser
import Proxy

/// `edgesplit reload`: what SIGHUP does, with the answer on the terminal.
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload a running instance's configuration file without dropping a connection.",
        discussion: """
            The file is validated first: a bad one is refused with the `check` messages and the running \
            configuration keeps serving. A new generation of listeners joins the same sockets, the old \
            listeners' queued connections migrate to it, and the old connections finish (timeouts.drain).
            """
    )

    @Option(help: "The running edgesplit instance.")
    var instance = "edgesplit"

    @Option(help: .hidden)
    var controlDirectory = ServerEnvironment.defaultControlDirectory

    func run() throws {
        let target = try FarmCommand.Target.parse(["--instance", instance, "--control-directory", controlDirectory])
        let reply = try ControlClient.reporting { try ControlClient.call(.reload, target: target) }
        guard case .reloaded(let generation) = reply else { return }
        print("\(instance): reloaded, generation \(generation)")
    }
}
