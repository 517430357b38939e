import Affinity
import Foundation
import Steering

/// What `edgesplit stats --json` prints, and what the dashboard reads: one model.
///
/// The kernel part comes straight from the instance's pinned BPF maps (so the CLI still has
/// it when the process is hung or gone); the process part is `ProxyServer.json(_:)` of the
/// server's `stats()`, which the CLI gets over the control socket and the dashboard in-process.
public struct StatsDocument {
    public typealias Kernel = (configuration: SteeringConfiguration, counters: SteeringCounters, program: ProgramStatus)

    public var time = Date()
    public var kernel: Kernel?
    public var kernelError: String?
    public var process: [String: Any]?
    public var processError: String?

    public init() {}

    /// Reads the kernel part from the pinned maps of `instance`.
    public mutating func readKernel(instance: String, pinRoot: String) {
        (kernel, kernelError) = Self.kernel(instance: instance, pinRoot: pinRoot)
    }

    /// The kernel part of `instance`, or why there is none.
    public static func kernel(instance: String, pinRoot: String) -> (Kernel?, String?) {
        do {
            let maps = try InstanceMaps(instance: instance, pinRoot: pinRoot)
            return ((try maps.configuration(), try maps.counters(), try maps.programStatus()), nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    /// The object `stats --json` prints (stable snake_case keys).
    public func json(instance: String) -> [String: Any] {
        var object: [String: Any] = ["instance": instance, "time": ISO8601DateFormatter().string(from: time)]
        if let (configuration, counters, program) = kernel {
            object["kernel"] = [
                "program_id": program.id, "program_name": program.name, "attached": program.attached,
                "run_count": program.runCount, "ns_per_decision": program.nanosecondsPerRun ?? NSNull(),
                "generation": configuration.generation, "ipv4_prefix": configuration.mask.ipv4Prefix,
                "ipv6_prefix": configuration.mask.ipv6Prefix, "workers": configuration.workerCount,
                "drained": configuration.drained.sorted(),
                "selections": (0..<configuration.workerCount).map { counters.selections(of: $0) },
                "overflowed": (0..<configuration.workerCount).map { counters.overflowed(of: $0) },
                "balance_factor": configuration.balance.map { $0.factor as Any } ?? NSNull(),
                "fallbacks": counters.fallback, "migrations": counters.migrations, "ipv6": counters.ipv6,
                "decisions": counters.total,
            ] as [String: Any]
        } else {
            object["kernel"] = NSNull()
            object["kernel_error"] = kernelError ?? "not loaded"
        }
        if var process {
            process.removeValue(forKey: "ok")
            object["process"] = process
            object["running"] = true
        } else {
            object["process"] = NSNull()
            object["running"] = false
            object["process_error"] = processError ?? "?"
        }
        return object
    }

    /// `json(instance:)` as one line of text, keys sorted.
    public func jsonText(instance: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: json(instance: instance), options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
