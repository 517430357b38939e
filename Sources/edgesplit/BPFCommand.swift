import Admin
import ArgumentParser
import Steering

#if canImport(Glibc)
import Glibc
#endif

/// `edgesplit bpf …`: the loaded steering program of an instance.
struct BPFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bpf",
        abstract: "Status and cleanup of the kernel steering program.",
        subcommands: [Status.self, Unload.self, Load.self],
        defaultSubcommand: Status.self
    )

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Program id, attach state, run count, ns per decision, pin path.")
        @OptionGroup var options: InstanceOptions
        func run() throws { try options.report { try SteeringReport.status(options.maps()) } }
    }

    struct Unload: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the pinned state of a stopped instance.")
        @OptionGroup var options: InstanceOptions
        @Flag(help: "Remove it even while listening sockets are in its map.") var force = false
        func run() throws {
            try options.report {
                try InstanceMaps.unload(instance: options.instance, pinRoot: options.pinRoot, force: force)
                let path = options.pinRoot + "/" + options.instance
                return SteeringReport(
                    text: "unloaded instance \(options.instance) (\(path) removed)",
                    json: SteeringPinChange(instance: options.instance, pinPath: path, unloaded: true))
            }
        }
    }

    /// Loads and pins the program for an instance and exits, leaving the pins (for
    /// Scripts/bench and for inspecting the program without a server).
    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load and pin the steering program for an instance, then exit.", shouldDisplay: false)
        @OptionGroup var options: InstanceOptions
        @Option(help: "Workers per listener group.") var workers: Int = SteeringProgram.defaultWorkerCount
        func run() throws {
            try options.report {
                let program = try SteeringProgram(.init(instance: options.instance, pinRoot: options.pinRoot, workers: workers, collectRunStats: false))
                program.close(unpin: false)
                return SteeringReport(
                    text: "loaded instance \(options.instance) (\(program.pinDirectory), \(program.migrates ? "migrate" : "select"))",
                    json: SteeringPinChange(instance: options.instance, pinPath: program.pinDirectory, migrate: program.migrates))
            }
        }
    }
}
