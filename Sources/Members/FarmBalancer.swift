import Affinity
import Publishing

/// Picks a farm member for a request, on one worker.
///
/// `source` persistence is a Maglev table over the members that are up, keyed by the same
/// masked-address hash the kernel uses for workers. Member ids come from the member's text
/// (`host:port`), never from its position, so every edgesplit host with the same
/// configuration picks the same member for a client without sharing state, and a member
/// going down moves only its own clients.
///
/// Passive health: a member whose connection is refused, reset or times out is skipped for
/// `failureHold`; when every member is out the caller answers 503.
///
/// Pure: time is an argument (nanoseconds on a monotonic clock, as the caller reads it), so
/// the hold is tested without waiting for it.
public final class FarmBalancer {
    /// Nanoseconds on a monotonic clock.
    public typealias Instant = UInt64

    /// How long a member that failed a connection is left out, unless told otherwise.
    public static let defaultFailureHold: Instant = 5_000_000_000

    public let farm: Farm
    public let farmIndex: Int
    public let memberIDs: [UInt32]
    public let mask: AffinityMask
    public let seed: UInt32
    /// How long a member that failed a connection is left out.
    public let failureHold: Instant

    private var downUntil: [Instant?]
    private var outstanding: [Int]
    /// Exchanges forwarded to each member by this worker since this balancer was made.
    public private(set) var forwarded: [UInt64]
    private var table: FarmMemberTable?
    private var resolved: [Bool]
    /// The health monitor's verdict: up and not drained.
    private var monitorAvailable: [Bool]
    /// Which members `pick` may choose, refilled on every pick.
    private var available: [Bool]

    /// `resolved[m]`: member m has an address (a name that did not resolve at start has none).
    public init(
        farm: Farm, farmIndex: Int, resolved: [Bool], mask: AffinityMask, seed: UInt32,
        failureHold: Instant = FarmBalancer.defaultFailureHold
    ) {
        precondition(resolved.count == farm.members.count)
        self.farm = farm
        self.farmIndex = farmIndex
        self.memberIDs = farm.members.map { FarmMemberTable.memberID($0.text) }
        self.mask = mask
        self.seed = seed
        self.failureHold = failureHold
        self.downUntil = Array(repeating: nil, count: farm.members.count)
        self.outstanding = Array(repeating: 0, count: farm.members.count)
        self.forwarded = Array(repeating: 0, count: farm.members.count)
        self.resolved = resolved
        self.monitorAvailable = Array(repeating: true, count: farm.members.count)
        self.available = Array(repeating: false, count: farm.members.count)
    }

    public func isAvailable(_ member: Int, now: Instant) -> Bool {
        guard resolved[member], monitorAvailable[member] else { return false }
        if let until = downUntil[member], until > now { return false }
        return true
    }

    /// The member for `client`, skipping `excluding` (a member that just failed); nil when
    /// no member is available.
    public func pick(for client: ClientAddress, excluding: Int? = nil, now: Instant) -> Int? {
        var any = false
        for member in available.indices {
            let up = member != excluding && isAvailable(member, now: now)
            available[member] = up
            any = any || up
        }
        guard any else { return nil }
        switch farm.persistence {
        case .none:
            var best: Int?
            for member in available.indices where available[member] {
                if best == nil || outstanding[member] < outstanding[best!] { best = member }
            }
            return best
        default:
            // `cookie`: a valid cookie was already honoured by the caller; otherwise source.
            if table == nil || table!.available != available {
                // The table keeps its own copy, so `available` stays unshared and is filled in
                // place on the next pick (no allocation per request).
                table = FarmMemberTable(memberIDs: memberIDs, available: available.map { $0 }, mask: mask, seed: seed)
            }
            return table!.member(for: client)
        }
    }

    /// A connection to `member` failed: it is left out until `now + failureHold`, or until a
    /// connection to it succeeds.
    public func markFailed(_ member: Int, now: Instant) {
        downUntil[member] = now &+ failureHold
    }

    /// A member whose name did not resolve at start now has an address.
    public func setResolved(_ member: Int) {
        resolved[member] = true
    }

    public func setMonitorAvailable(_ member: Int, _ available: Bool) {
        monitorAvailable[member] = available
    }

    public func markSucceeded(_ member: Int) {
        downUntil[member] = nil
    }

    /// Exchanges in flight to each member from this worker.
    public var outstandingRequests: [Int] { outstanding }

    public func requestStarted(_ member: Int) {
        outstanding[member] += 1
        forwarded[member] &+= 1
    }
    public func requestFinished(_ member: Int) { outstanding[member] -= 1 }
}
