import Affinity

/// Which per-source limit refused a connection or a request; the raw value is the
/// configuration key, and the `reason` label in `stats` and `/metrics`.
public enum LimitReason: String, Hashable, Sendable, CaseIterable {
    case concurrentConnections = "concurrent_connections"
    case connectionsPerMinute = "connections_per_minute"
    case halfOpenHandshakes = "half_open_handshakes"
    case requestsPerMinute = "requests_per_minute"
    case concurrentStreams = "concurrent_streams"
}

/// The per-source counts of one worker: open connections, TLS handshakes in progress and
/// one-minute windows of new connections and requests, by source (the client address
/// masked to the affinity prefix).
///
/// The kernel steering sends every connection of a source to one worker, so one table per
/// worker sees all of a source's traffic and needs no lock. Memory is bounded: at most
/// `limits.trackedSources` sources are kept; a source with nothing open whose windows have
/// ended holds no information and is dropped, and when the table is full the sources
/// seen longest ago are forgotten first (forgetting only ever lets a source do more, never
/// less), so a scan from millions of addresses cannot grow it. A source with connections
/// open is never forgotten — its count must come back to zero — so a table full of those
/// (as many distinct sources with connections open as it holds) admits further sources
/// without counting them (`untracked`).
///
/// Windows are fixed one-minute windows that start with a source's first counted event:
/// within one, at most the limit is admitted; `Retry-After` is the time left in it.
/// Refused connections and requests are not counted.
public struct SourceLimitTable: Sendable {
    /// Nanoseconds of a monotonic clock (the caller's; tests pass their own).
    public typealias Instant = UInt64

    public static let window: UInt64 = 60_000_000_000

    /// A source as a fixed-size key: no allocation per source; with the dictionary's
    /// slack an entry takes about 175 bytes.
    struct Key: Hashable, Sendable {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var isIPv6: Bool

        init(_ address: ClientAddress) {
            let bytes = address.bytes
            isIPv6 = bytes.count == 16
            for (i, byte) in bytes.enumerated() {
                if i < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
            }
        }
    }

    /// A one-minute window: how many were admitted in it and when it ends.
    struct Window: Sendable {
        var end: Instant = 0
        var count: Int32 = 0

        /// Counts one more event if under `limit`; false when the window is full.
        mutating func take(limit: Int, now: Instant) -> Bool {
            if now >= end {
                end = now &+ SourceLimitTable.window
                count = 0
            }
            guard count < limit else { return false }
            count += 1
            return true
        }

        /// Whole seconds until the window ends (at least 1).
        func secondsLeft(now: Instant) -> Int {
            guard end > now else { return 1 }
            return Int((end - now + 999_999_999) / 1_000_000_000)
        }
    }

    struct Entry: Sendable {
        var connections: Int32 = 0
        var handshakes: Int32 = 0
        /// HTTP/2 streams open on the source's connections.
        var streams: Int32 = 0
        var connects = Window()
        var requests = Window()
        /// Windows of rules with their own limit, by rule index (few per source).
        var ruleRequests: [(rule: Int, window: Window)] = []
        var lastSeen: Instant = 0

        var isOpen: Bool { connections > 0 || handshakes > 0 }

        func isIdle(now: Instant) -> Bool {
            !isOpen && now >= connects.end && now >= requests.end && ruleRequests.allSatisfy { now >= $0.window.end }
        }
    }

    /// The answer for a new connection.
    public enum ConnectionAdmission: Equatable, Sendable {
        /// Counted under `source`: the caller reports its handshake and its close.
        case admitted(source: ClientAddress)
        /// In an exception network: not counted, never limited.
        case exempt
        /// Admitted without counting: the table is full of sources with open connections.
        case untracked
        case refused(LimitReason)
    }

    /// The answer for a request.
    public enum RequestAdmission: Equatable, Sendable {
        case allowed
        /// Over `requests_per_minute` (global or the rule's); retry after this many seconds.
        case refused(retryAfter: Int)
    }

    public var limits: SourceLimits
    /// By rule ID (see `register(rules:)`): the rule's own limits, nil where the global
    /// ones apply.
    public private(set) var ruleLimits: [RuleLimits?]
    /// Rule IDs by rule name: a rule keeps its ID, and its sources their windows for it,
    /// across reloads, while rule indexes may shift.
    private var ruleIDs: [String: Int] = [:]
    public let mask: AffinityMask
    private var entries: [Key: Entry] = [:]
    /// Sources forgotten while the table was full (their windows had not ended).
    public private(set) var evicted: UInt64 = 0
    /// Connections admitted without counting because the table was full.
    public private(set) var untracked: UInt64 = 0
    /// After a sweep found no room (every source has connections open), new sources go
    /// uncounted until then without another sweep: a full table costs no sort per accept.
    private var noRoomUntil: Instant = 0

    /// An empty table; rules with limits of their own are added by `register(rules:)`.
    public init(limits: SourceLimits, mask: AffinityMask) {
        self.limits = limits
        self.ruleLimits = []
        self.mask = mask
    }

    /// Sets `table` up for `config` — kept with its counts when there is one (a reload), made
    /// when the configuration sets a limit, dropped when it sets none — and returns the rule
    /// ID of each of the configuration's rules, by rule index.
    public static func configure(_ table: inout SourceLimitTable?, for config: EdgesplitConfig) -> [Int] {
        guard config.limits != nil || config.rules.contains(where: { $0.limits != nil }),
              let mask = AffinityMask(ipv4Prefix: config.affinity.ipv4Prefix, ipv6Prefix: config.affinity.ipv6Prefix)
        else {
            table = nil
            return []
        }
        if table == nil || table?.mask != mask {
            table = SourceLimitTable(limits: .off, mask: mask)
        }
        table!.limits = config.limits ?? .off
        return table!.register(rules: config.rules)
    }

    /// Gives each rule the ID its name had before (or a new one) and records its limits.
    public mutating func register(rules: [PublishingRule]) -> [Int] {
        rules.map { rule in
            let id = ruleIDs[rule.name] ?? ruleLimits.count
            if id == ruleLimits.count {
                ruleIDs[rule.name] = id
                ruleLimits.append(nil)
            }
            ruleLimits[id] = rule.limits
            return id
        }
    }

    /// Sources with counts kept now.
    public var count: Int { entries.count }

    /// The source a client counts under: its address masked to the affinity prefix.
    public func source(of client: ClientAddress) -> ClientAddress {
        AffinityHash.masked(client, mask: mask)
    }

    // MARK: Connections

    /// A connection was accepted from `client`: admit it (and count it) or say which limit
    /// it is over. `handshake` says a TLS handshake starts on it.
    public mutating func admitConnection(from client: ClientAddress, handshake: Bool, now: Instant) -> ConnectionAdmission {
        if limits.isException(client) { return .exempt }
        let source = source(of: client)
        let key = Key(source)
        if entries[key] == nil {
            guard makeRoom(now: now) else {
                untracked &+= 1
                return .untracked
            }
        }
        var entry = entries[key] ?? Entry()
        entry.lastSeen = now
        defer { entries[key] = entry.isIdle(now: now) ? nil : entry }
        if let limit = limits.concurrentConnections, entry.connections >= limit {
            return .refused(.concurrentConnections)
        }
        if handshake, let limit = limits.halfOpenHandshakes, entry.handshakes >= limit {
            return .refused(.halfOpenHandshakes)
        }
        if let limit = limits.connectionsPerMinute, !entry.connects.take(limit: limit, now: now) {
            return .refused(.connectionsPerMinute)
        }
        entry.connections += 1
        if handshake { entry.handshakes += 1 }
        return .admitted(source: source)
    }

    /// The TLS handshake of an admitted connection finished (or failed).
    public mutating func handshakeEnded(source: ClientAddress) {
        let key = Key(source)
        guard var entry = entries[key], entry.handshakes > 0 else { return }
        entry.handshakes -= 1
        entries[key] = entry
    }

    /// A new HTTP/2 stream on an admitted connection of `source`: false when the source has
    /// `concurrent_streams` open already (the stream is refused; its connection stays).
    public mutating func admitStream(source: ClientAddress) -> Bool {
        let key = Key(source)
        guard var entry = entries[key] else { return true }
        if let limit = limits.concurrentStreams, entry.streams >= limit { return false }
        entry.streams += 1
        entries[key] = entry
        return true
    }

    /// An admitted stream of `source` ended.
    public mutating func streamClosed(source: ClientAddress) {
        let key = Key(source)
        guard var entry = entries[key], entry.streams > 0 else { return }
        entry.streams -= 1
        entries[key] = entry
    }

    /// An admitted connection closed; `handshakeOpen` when its handshake never ended.
    public mutating func connectionClosed(source: ClientAddress, handshakeOpen: Bool) {
        let key = Key(source)
        guard var entry = entries[key] else { return }
        if entry.connections > 0 { entry.connections -= 1 }
        if handshakeOpen, entry.handshakes > 0 { entry.handshakes -= 1 }
        entries[key] = entry
    }

    // MARK: Requests

    /// A request from an admitted connection of `source`, matched by the rule with ID `rule`
    /// (nil: no rule).
    /// A rule with its own limits counts in its own window; every other request in the
    /// source's global window.
    public mutating func admitRequest(source: ClientAddress, rule: Int?, now: Instant) -> RequestAdmission {
        let key = Key(source)
        guard var entry = entries[key] else { return .allowed }
        entry.lastSeen = now
        defer { entries[key] = entry }
        if let rule, rule < ruleLimits.count, let own = ruleLimits[rule] {
            guard let limit = own.requestsPerMinute else { return .allowed }
            let slot: Int
            if let found = entry.ruleRequests.firstIndex(where: { $0.rule == rule }) {
                slot = found
            } else {
                entry.ruleRequests.append((rule, Window()))
                slot = entry.ruleRequests.count - 1
            }
            if entry.ruleRequests[slot].window.take(limit: limit, now: now) { return .allowed }
            return .refused(retryAfter: entry.ruleRequests[slot].window.secondsLeft(now: now))
        }
        guard let limit = limits.requestsPerMinute else { return .allowed }
        if entry.requests.take(limit: limit, now: now) { return .allowed }
        return .refused(retryAfter: entry.requests.secondsLeft(now: now))
    }

    // MARK: Memory

    /// Drops every source that holds no information any more (nothing open, windows ended).
    public mutating func expire(now: Instant) {
        entries = entries.filter { !$0.value.isIdle(now: now) }
    }

    /// Before a new source is added: when the table is full, drop idle sources, then the
    /// ones seen longest ago without open connections, down to 7/8 of the capacity (so the
    /// sort is paid once per capacity/8 new sources). False when no room can be made; then
    /// no sweep is tried again for a second.
    private mutating func makeRoom(now: Instant) -> Bool {
        let capacity = limits.trackedSources
        guard entries.count >= capacity else { return true }
        guard now >= noRoomUntil else { return false }
        expire(now: now)
        let target = capacity - max(1, capacity / 8)
        if entries.count > target {
            let closed = entries.filter { !$0.value.isOpen }.sorted { $0.value.lastSeen < $1.value.lastSeen }
            for (source, _) in closed.prefix(entries.count - target) {
                entries[source] = nil
                evicted &+= 1
            }
        }
        guard entries.count < capacity else {
            noRoomUntil = now &+ 1_000_000_000
            return false
        }
        return true
    }
}
