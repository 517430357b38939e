import ArgumentParser
import Logging
import NIOCore
import Proxy
import Publishing

/// `edgesplit serve`: the production entry point.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run edgesplit with a configuration file.",
        discussion: """
            The configuration is validated first; an invalid one is refused before anything is bound. \
            SIGTERM or SIGINT stops accepting, lets in-flight requests finish (timeouts.shutdown, default 30s) \
            and exits 0.
            """
    )

    @Option(name: .shortAndLong, help: "The configuration file.")
    var config: String

    @Flag(name: .customLong("no-bpf"), help: "Do not load the kernel steering program (plain reuseport).")
    var noBPF = false

    @Option(help: "Override the configured number of workers (1...64).")
    var workers: Int?

    func validate() throws {
        if let workers, !(1...64).contains(workers) {
            throw ValidationError("--workers \(workers): expected 1...64 (the configuration's workers range)")
        }
    }

    func run() throws {
        let loaded: EdgesplitConfig
        let runtime: RuntimeConfiguration
        do {
            loaded = try ConfigurationFile.load(path: config)
            runtime = try ConfigurationFile.compile(loaded)
        } catch is ConfigurationFile.Invalid {
            throw ExitCode(1)
        }
        var environment = ServerEnvironment(
            logger: Logger(label: "edgesplit"),
            kernelSteering: !noBPF,
            workers: workers,
            controlDirectory: ServerEnvironment.defaultControlDirectory
        )
        let path = config
        environment.reloadConfiguration = { try ConfigurationFile.loadForReload(path: path) }
        try Runner.run(runtime: runtime, environment: environment)
    }
}

/// Runs a server until SIGTERM/SIGINT, then drains it.
enum Runner {
    static func run(runtime: RuntimeConfiguration, environment: ServerEnvironment, banner: ((ProxyServer) -> Void)? = nil) throws {
        let signals = SignalWaiter()
        let server = ProxyServer(runtime: runtime, environment: environment)
        server.onRetired = { signals.post("RETIRED") }
        do {
            try server.start()
        } catch {
            printError("edgesplit: error: \(error)")
            throw ExitCode(1)
        }
        if let warning = server.steeringWarning {
            printError("edgesplit: warning: client affinity is off: \(warning); the kernel's reuseport hash spreads connections over workers")
        }
        if let warning = server.controlWarning {
            printError("edgesplit: warning: \(warning)")
        }
        if server.tookOverFromPredecessor {
            printError("edgesplit: took over instance '\(runtime.config.instance)' from the process that served it; that process drains and exits")
        }
        printError("edgesplit: serving instance '\(runtime.config.instance)' with \(server.workerCount) workers")
        banner?(server)
        var signal = signals.wait()
        while signal == "SIGHUP" {
            do {
                let generation = try server.reloadFromSource()
                printError("edgesplit: SIGHUP received; reloaded, generation \(generation)")
            } catch {
                printError("edgesplit: SIGHUP received; reload refused, the running configuration keeps serving:\n\(error)")
            }
            signal = signals.wait()
        }
        if signal == "RETIRED" {
            printError("edgesplit: retired: a newer process took over instance '\(runtime.config.instance)'; its exchanges here are done")
            server.shutdown(deadline: .seconds(1))
            printError("edgesplit: stopped")
            return
        }
        printError("edgesplit: \(signal) received; finishing in-flight requests")
        server.shutdown(deadline: runtime.config.timeouts.shutdown.timeAmount)
        printError("edgesplit: stopped")
    }
}
