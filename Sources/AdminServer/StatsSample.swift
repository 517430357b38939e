import Admin
import Affinity
import Foundation
import Steering

/// One reading of an instance for `edgesplit stats` and the dashboard: the kernel part from
/// the instance's pinned BPF maps (so the CLI still has it when the process is hung or gone),
/// the process part from the server's `stats()`, which the CLI gets over the control socket
/// and the dashboard in-process. `document(instance:)` is what `stats --json` prints.
package struct StatsSample {
    package typealias Kernel = (configuration: SteeringConfiguration, counters: SteeringCounters, program: ProgramStatus)

    package var time = Date()
    package var kernel: Kernel?
    package var kernelError: String?
    package var process: ProcessStats?
    package var processError: String?

    package init() {}

    /// Reads the kernel part from the pinned maps of `instance`.
    package mutating func readKernel(instance: String, pinRoot: String) {
        (kernel, kernelError) = Self.kernel(instance: instance, pinRoot: pinRoot)
    }

    /// The kernel part of `instance`, or why there is none.
    package static func kernel(instance: String, pinRoot: String) -> (Kernel?, String?) {
        do {
            let maps = try InstanceMaps(instance: instance, pinRoot: pinRoot)
            return ((try maps.configuration(), try maps.counters(), try maps.programStatus()), nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    /// The document `stats --json` prints and `/dashboard/stats` serves.
    package func document(instance: String) -> StatsDocument {
        let steering = kernel.map { configuration, counters, program in
            KernelSteering(
                programID: UInt64(program.id), programName: program.name, attached: program.attached, runCount: program.runCount,
                nanosecondsPerDecision: program.nanosecondsPerRun, generation: UInt64(configuration.generation),
                ipv4Prefix: configuration.mask.ipv4Prefix, ipv6Prefix: configuration.mask.ipv6Prefix,
                workers: configuration.workerCount, drained: configuration.drained.sorted(),
                selections: (0..<configuration.workerCount).map { counters.selections(of: $0) },
                overflowed: (0..<configuration.workerCount).map { counters.overflowed(of: $0) },
                balanceFactor: configuration.balance?.factor, fallbacks: counters.fallback, migrations: counters.migrations,
                ipv6: counters.ipv6, decisions: counters.total)
        }
        return StatsDocument(
            instance: instance, time: ISO8601DateFormatter().string(from: time), kernel: steering, kernelError: kernelError,
            process: process, processError: processError)
    }

    /// `document(instance:)` as one line of JSON, keys sorted.
    package func jsonText(instance: String) -> String {
        JSONOutput.text(document(instance: instance))
    }
}
