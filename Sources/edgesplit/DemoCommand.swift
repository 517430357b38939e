#if canImport(Glibc)
import Forwarding
import Glibc
#endif
import ArgumentParser
import Demo
import Logging
import NIOPosix
import Proxy

/// `edgesplit demo`: the embedded default. No file is needed: the certificates are made in
/// memory and a small Lync deployment (a Front End pool of two members and a Director)
/// runs in-process behind edgesplit.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run edgesplit on an embedded demo: a self-signed certificate and Lync-like local backends.",
        discussion: "Listens on 127.0.0.1 only. Stop it with Ctrl-C."
    )

    @Option(help: "Port of the demo's HTTPS listener (0: a free port).")
    var httpsPort = 8443

    @Option(help: "Port of the demo's HTTP listener (0: a free port).")
    var httpPort = 8080

    @Flag(name: .customLong("no-bpf"), help: "Do not load the kernel steering program.")
    var noBPF = false

    @Option(help: "Number of workers, 1...64 (default: the demo configuration's 2).")
    var workers: Int?

    @Flag(help: "Print the demo's configuration and exit.")
    var printConfig = false

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        for (name, port) in [("--https-port", httpsPort), ("--http-port", httpPort)] where !(0...65535).contains(port) {
            throw ValidationError("\(name) \(port): expected 0...65535 (0: a free port)")
        }
        if let workers, !(1...64).contains(workers) {
            throw ValidationError("--workers \(workers): expected 1...64")
        }
    }

    func run() async throws {
        let logger = logging.bootstrap()
        // Port 0 asks for a free port; it is picked here so the configuration and the
        // printed commands carry the real one, and held until the proxy listens on it.
        let reserved = try [httpsPort, httpPort].map { $0 == 0 ? try EphemeralPort(address: "127.0.0.1") : nil }
        defer { reserved.forEach { $0?.release() } }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let deployment = try await DemoDeployment(
            httpsPort: reserved[0]?.port ?? httpsPort, httpPort: reserved[1]?.port ?? httpPort, on: group)
        if printConfig {
            print(deployment.configurationYAML)
            try await deployment.stop()
            try await group.shutdownGracefully()
            return
        }
        let runtime: RuntimeConfiguration
        do {
            let config = try ConfigurationFile.load(yaml: deployment.configurationYAML, file: "<demo>", warnings: logger)
            runtime = try ConfigurationFile.compile(
                config, source: deployment.configurationYAML, readFile: deployment.fileReader, warnings: logger)
        } catch is ConfigurationFile.Invalid {
            try await deployment.stop()
            try await group.shutdownGracefully()
            throw ExitCode(1)
        }
        // Unprivileged, loading fails and serve's one warning says why (not "--no-bpf").
        let environment = ServerEnvironment(
            logger: logger,
            kernelSteering: !noBPF,
            workers: workers,
            controlDirectory: ServerEnvironment.defaultControlDirectory
        )
        let instance = runtime.config.instance
        try await Runner.run(runtime: runtime, environment: environment) { server in
            reserved.forEach { $0?.release() }
            var text = "\nedgesplit demo is up. Try:\n"
            let ports = server.boundPorts
            for scenario in deployment.scenarios(httpsPort: ports.first, httpPort: ports.dropFirst().first) {
                text += "\n  # \(scenario.title) — expect \(scenario.expectation)\n  \(scenario.command)\n"
            }
            text += "\n\(DemoDeployment.curlNote)\n"
            if server.steeringWarning == nil {
                text += "\nKernel steering: edgesplit maps show --instance \(instance)"
                text += "\n                 edgesplit maps where 127.0.0.1 --instance \(instance)\n"
            } else if geteuid() != 0 {
                text += "\nRun as root to see kernel steering (edgesplit maps show --instance \(instance)).\n"
            }
            text += "\nStop with Ctrl-C.\n"
            print(text)
            // fflush(nil) flushes stdout: Glibc's `stdout` is a global var Swift 6 will not read.
            fflush(nil)
        }
        try await deployment.stop()
        try await group.shutdownGracefully()
    }
}
