import ArgumentParser
import Forwarding
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

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let workers, !(1...64).contains(workers) {
            throw ValidationError("--workers \(workers): expected 1...64 (the configuration's workers range)")
        }
    }

    func run() async throws {
        let logger = logging.bootstrap()
        let loaded: EdgesplitConfig
        let runtime: RuntimeConfiguration
        do {
            let text = try ConfigurationFile.read(path: config)
            loaded = try ConfigurationFile.load(yaml: text, file: config, warnings: logger)
            runtime = try ConfigurationFile.compile(loaded, source: text, warnings: logger)
        } catch is ConfigurationFile.Invalid {
            throw ExitCode(1)
        }
        var environment = ServerEnvironment(
            logger: logger,
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
/// newer process retiring it), then drains its connections; SIGHUP reloads. Everything it
/// says goes through `environment.logger`.
enum Runner {
    static func run(runtime: RuntimeConfiguration, environment: ServerEnvironment, banner: ((ProxyServer) -> Void)? = nil) async throws {
        let instance = runtime.config.instance
        let logger = environment.logger
        let server = ProxyServer(runtime: runtime, environment: environment)
        let service = await ProxyService(
            server: server, shutdownDeadline: runtime.config.timeouts.shutdown.timeAmount, instance: instance, logger: logger)
        do {
            try server.start()
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
        server.bootstrapMetricsSystem()
        if let warning = server.steeringWarning {
            logger.warning(
                "client affinity is off: \(warning); the kernel's reuseport hash spreads connections over workers",
                metadata: ["steering": "off"])
        }
        if let warning = server.controlWarning {
            logger.warning("\(warning)", metadata: ["control": "off"])
        }
        if server.tookOverFromPredecessor {
            logger.notice(
                "took over instance '\(instance)' from the process that served it; that process drains and exits",
                metadata: ["instance": "\(instance)"])
        }
        logger.notice(
            "serving instance '\(instance)' with \(server.workerCount) workers",
            metadata: ["instance": "\(instance)", "workers": "\(server.workerCount)"])
        banner?(server)
        // The group's own lifecycle lines only at debug and trace; otherwise its warnings and errors.
        var groupLogger = logger
        if logger.logLevel > .debug { groupLogger.logLevel = max(logger.logLevel, .warning) }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: groupLogger
            )
        )
        try await group.run()
    }
}
