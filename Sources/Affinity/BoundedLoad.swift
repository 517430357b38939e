/// Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2017) over the
/// workers, as BPF/steer.bpf.c applies it: pure, so `edgesplit maps where` and the tests can
/// say what the kernel does with a client given the loads it reads.
///
/// A worker holding `L` of the `T` active connections of the `n` undrained workers may take
/// one more while `L < factor × (T + 1) / n`; it then holds at most ⌈factor × mean⌉. The
/// Maglev worker keeps its client while under that bound. Otherwise the walk visits
/// `w + step, w + 2·step, …` (mod the worker count, skipping drained workers; `step` is
/// coprime to the count and derived from the seed) and takes the first worker under it.
public struct BoundedLoad: Sendable, Hashable {
    /// The kernel's fixed point: factor × 1000 (ES_BALANCE_UNIT).
    public static let unit: UInt64 = 1000
    /// The smallest and largest factors the configuration accepts.
    public static let factorRange: ClosedRange<Double> = 1.0...100.0

    /// Factor × 1000, as in `cfg.balance_milli`.
    public let milli: UInt32

    public init?(factor: Double) {
        guard factor.isFinite, Self.factorRange.contains(factor) else { return nil }
        milli = UInt32((factor * Double(Self.unit)).rounded())
    }

    public init?(milli: UInt32) {
        guard milli > 0 else { return nil }
        self.milli = milli
    }

    public var factor: Double { Double(milli) / Double(Self.unit) }

    /// The factor as configured: "1.25", "2".
    public var text: String {
        let whole = UInt64(milli) / Self.unit
        var fraction = String(UInt64(milli) % Self.unit)
        guard fraction != "0" else { return String(whole) }
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(whole).\(fraction)"
    }

    /// Parses a factor written as a decimal with at most three decimals, 1 to 100 ("1.25").
    public init?(text: String) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.count <= 3, whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        guard fraction.count <= 3, fraction.allSatisfy({ $0.isASCII && $0.isNumber }), parts.count == 1 || !fraction.isEmpty else { return nil }
        fraction += String(repeating: "0", count: 3 - fraction.count)
        guard let w = UInt32(whole), let f = UInt32(fraction) else { return nil }
        let milli = w * UInt32(Self.unit) + f
        guard Double(milli) / Double(Self.unit) >= Self.factorRange.lowerBound,
              Double(milli) / Double(Self.unit) <= Self.factorRange.upperBound else { return nil }
        self.milli = milli
    }

    /// The step of the overflow walk for `workers` workers: `1 + seed mod (workers − 1)`,
    /// moved up to the next value coprime to `workers`, so the walk visits every other worker
    /// once. Written to `cfg.walk_step` by userspace; the program only adds it.
    public static func walkStep(seed: UInt32, workers: Int) -> Int {
        guard workers > 2 else { return 1 }
        var step = 1 + Int(seed % UInt32(workers - 1))
        while gcd(step, workers) != 1 { step = step + 1 < workers ? step + 1 : 1 }
        return step
    }

    /// What the program decides for a client whose Maglev worker is `maglevWorker`.
    public struct Decision: Sendable, Equatable {
        /// The worker the connection goes to.
        public var worker: Int
        /// True when the Maglev worker was at the bound and another took the connection.
        public var overflowed: Bool
        /// The most connections a worker may hold before it takes one more: it may accept
        /// while its load is below `bound` (factor × (T + 1) / n).
        public var bound: Double

        public init(worker: Int, overflowed: Bool, bound: Double) {
            self.worker = worker
            self.overflowed = overflowed
            self.bound = bound
        }
    }

    /// The program's choice. `loads[w]` is worker w's open connections (all rows summed);
    /// missing entries count as 0.
    public func decide(maglevWorker: Int, loads: [UInt64], configuration: SteeringConfiguration) -> Decision {
        let n = configuration.workerCount
        guard n > 0, n <= SteeringConfiguration.maxWorkers else {
            return Decision(worker: maglevWorker, overflowed: false, bound: .infinity)  // the program skips the bound
        }
        func load(_ w: Int) -> UInt64 { w >= 0 && w < loads.count ? loads[w] : 0 }
        let live = (0..<n).filter { !configuration.drained.contains($0) }
        let total = live.reduce(UInt64(0)) { $0 &+ load($1) }
        guard !live.isEmpty else { return Decision(worker: maglevWorker, overflowed: false, bound: .infinity) }
        let limit = UInt64(milli) &* (total &+ 1)
        let unit = Self.unit &* UInt64(live.count)
        let bound = Double(limit) / Double(unit)
        func under(_ w: Int) -> Bool { load(w) &* unit < limit }
        if under(maglevWorker) { return Decision(worker: maglevWorker, overflowed: false, bound: bound) }
        let step = configuration.walkStep
        for k in 1..<max(n, 1) {
            let candidate = Int((UInt32(truncatingIfNeeded: maglevWorker) &+ UInt32(k) &* UInt32(step)) % UInt32(n))
            if configuration.drained.contains(candidate) { continue }
            if under(candidate) { return Decision(worker: candidate, overflowed: true, bound: bound) }
        }
        // No worker under the bound (loads that do not add up): the program keeps affinity
        // and counts no overflow.
        return Decision(worker: maglevWorker, overflowed: false, bound: bound)
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
