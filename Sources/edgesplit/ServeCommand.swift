import ArgumentParser
import Logging
import NIOCore
import Proxy
import Publishing
import ServiceLifecycle

/// `edgesplit serve`: the production entry point.
struct ServeCommand: AsyncParsableCommand {
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

    func run() async throws {
        let loaded: EdgesplitConfig
        let runtime: RuntimeConfiguration
        do {
            let text = try ConfigurationFile.read(path: config)
            loaded = try ConfigurationFile.load(yaml: text, file: config)
            runtime = try ConfigurationFile.compile(loaded, source: text)
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
        try await Runner.run(runtime: runtime, environment: environment)
    }
}

/// Runs a server in a swift-service-lifecycle `ServiceGroup` until SIGTERM or SIGINT (or a
/// newer process retiring it), then drains it; SIGHUP reloads.
enum Runner {
    static func run(runtime: RuntimeConfiguration, environment: ServerEnvironment, banner: ((ProxyServer) -> Void)? = nil) async throws {
        let server = ProxyServer(runtime: runtime, environment: environment)
        let service = await ProxyService(
            server: server, shutdownDeadline: runtime.config.timeouts.shutdown.timeAmount, instance: runtime.config.instance)
        do {
            try server.start()
        } catch {
            printError("edgesplit: error: \(error)")
            throw ExitCode(1)
        }
        server.bootstrapMetricsSystem()
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
        var logger = environment.logger
        logger.logLevel = .warning
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
