import Admin
import Affinity
import ArgumentParser
import Steering

#if canImport(Glibc)
import Glibc
#endif

/// Options every command on a running instance's pinned state takes.
struct InstanceOptions: ParsableArguments {
    @Option(name: .long, help: "The edgesplit instance whose pinned BPF state to use.")
    var instance: String = "edgesplit"

    @Option(name: .long, help: ArgumentHelp("bpffs directory holding the instances.", visibility: .hidden))
    var pinRoot: String = InstanceMaps.defaultPinRoot

    @Flag(name: .long, help: "Print JSON (stable snake_case keys).")
    var json = false

    /// Runs `body`, prints its report, and turns a SteeringError into one
    /// `edgesplit: error: …` line on stderr with exit status 1.
    func report(_ body: () throws -> SteeringReport) throws {
        try reportEach { [try body()] }
    }

    /// Like `report(_:)` for several reports: one per line (JSON Lines with `--json`).
    func reportEach(_ body: () throws -> [SteeringReport]) throws {
        do {
            for r in try body() { print(json ? JSONOutput.text(r.json) : r.text) }
        } catch let error as SteeringError {
            throw Stderr.failure("\(error)")
        }
    }

    func maps() throws -> InstanceMaps { try InstanceMaps(instance: instance, pinRoot: pinRoot) }
}

/// `edgesplit maps …`: the steering table of a running instance, through its pinned maps.
struct MapsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maps",
        abstract: "Inspect and change the kernel steering table of a running instance.",
        subcommands: [Show.self, Where.self, Drain.self, Undrain.self, SetPrefix.self, SetBalance.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Workers, their share of the table, drained state, prefixes, seed, generation.")
        @OptionGroup var options: InstanceOptions
        func run() throws { try options.report { try SteeringReport.show(options.maps()) } }
    }

    struct Where: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "where",
            abstract: "The worker the kernel picks for client addresses (from the live maps).",
            discussion: "Prints one line per address; with --json, one JSON object per line.")
        @OptionGroup var options: InstanceOptions
        @Argument(help: ArgumentHelp("Client IPv4 or IPv6 addresses.", valueName: "client-ip")) var clientIPs: [String]
        func validate() throws {
            if clientIPs.isEmpty { throw ValidationError("give at least one client address") }
        }
        func run() throws {
            try options.reportEach { try SteeringReport.whereIs(clientIPs, options.maps()) }
        }
    }

    struct Drain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a worker out of the table: only its clients move (atomic table switch).")
        @OptionGroup var options: InstanceOptions
        @Argument(help: "Worker index.") var worker: Int
        func run() throws {
            try options.report {
                let maps = try options.maps()
                try maps.drain(worker: worker)
                return try SteeringReport.changed("worker \(worker) drained", worker: worker, maps)
            }
        }
    }

    struct Undrain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a drained worker back: its clients return to it (atomic table switch).")
        @OptionGroup var options: InstanceOptions
        @Argument(help: "Worker index.") var worker: Int
        func run() throws {
            try options.report {
                let maps = try options.maps()
                try maps.undrain(worker: worker)
                return try SteeringReport.changed("worker \(worker) undrained", worker: worker, maps)
            }
        }
    }

    struct SetPrefix: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-prefix", abstract: "Change the affinity prefixes (e.g. --ipv4 24 --ipv6 64).")
        @OptionGroup var options: InstanceOptions
        @Option(help: "IPv4 prefix length, 0...32.") var ipv4: Int?
        @Option(help: "IPv6 prefix length, 0...128.") var ipv6: Int?
        func validate() throws {
            if ipv4 == nil && ipv6 == nil { throw ValidationError("give --ipv4, --ipv6 or both") }
        }
        func run() throws {
            try options.report {
                let maps = try options.maps()
                try maps.setPrefix(ipv4: ipv4, ipv6: ipv6)
                return try SteeringReport.changed("prefixes set", worker: nil, maps)
            }
        }
    }

    struct SetBalance: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-balance",
            abstract: "Bound each worker's load: a factor 1...100 such as 1.25, or 'off' for pure affinity.",
            discussion: "Lasts until the process restarts; set affinity.balance_factor to keep it.")
        @OptionGroup var options: InstanceOptions
        @Argument(help: ArgumentHelp("The balance factor, or off.", valueName: "factor")) var factor: String
        func validate() throws {
            if factor != "off" && BoundedLoad(text: factor) == nil {
                throw ValidationError("expected a number 1...100 with at most three decimals (for example 1.25) or 'off', got '\(factor)'")
            }
        }
        func run() throws {
            try options.report {
                let maps = try options.maps()
                let balance = BoundedLoad(text: factor)
                try maps.setBalance(balance)
                return try SteeringReport.changed(balance.map { "balance factor \($0.text)" } ?? "bounded loads off", worker: nil, maps)
            }
        }
    }
}
