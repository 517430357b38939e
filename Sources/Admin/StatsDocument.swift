/// What `edgesplit stats --json` prints and the dashboard reads from `/dashboard/stats`: the
/// kernel's steering figures and the process's own, each with why it is missing when it is.
///
/// The kernel part comes from the instance's pinned BPF maps, so it is there when the
/// process is hung or gone; the process part is the control socket's `stats` reply.
public struct StatsDocument: Codable, Sendable, Equatable {
    public var instance: String
    /// ISO 8601: when the figures were read.
    public var time: String
    /// Nil (`null`) when the instance has no pinned steering state; `kernelError` says why.
    public var kernel: KernelSteering?
    public var kernelError: String?
    /// Nil (`null`) when the process did not answer; `processError` says why.
    public var process: ProcessStats?
    public var processError: String?

    /// Whether the process answered.
    public var running: Bool { process != nil }

    enum CodingKeys: String, CodingKey {
        case instance, time, kernel, process, running
        case kernelError = "kernel_error", processError = "process_error"
    }

    public init(instance: String, time: String, kernel: KernelSteering?, kernelError: String?, process: ProcessStats?, processError: String?) {
        (self.instance, self.time, self.kernel, self.process) = (instance, time, kernel, process)
        // As before the model: a missing part always says why.
        self.kernelError = kernel == nil ? kernelError ?? "not loaded" : nil
        self.processError = process == nil ? processError ?? "?" : nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        instance = try c.value(.instance, or: "")
        time = try c.value(.time, or: "")
        // A kernel part this edgesplit cannot read (another version's) is left out, not fatal:
        // `stats --merge` reads saved documents for their process part.
        kernel = (try? c.decodeIfPresent(KernelSteering.self, forKey: .kernel)) ?? nil
        kernelError = try c.decodeIfPresent(String.self, forKey: .kernelError)
        process = try c.decodeIfPresent(ProcessStats.self, forKey: .process)
        processError = try c.decodeIfPresent(String.self, forKey: .processError)
    }

    /// `kernel` and `process` are `null` when missing, and their error beside them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(instance, forKey: .instance)
        try c.encode(time, forKey: .time)
        try c.encode(kernel, forKey: .kernel)
        try c.encodeIfPresent(kernelError, forKey: .kernelError)
        try c.encode(process, forKey: .process)
        try c.encode(running, forKey: .running)
        try c.encodeIfPresent(processError, forKey: .processError)
    }
}
