import NIOCore

/// Idle keep-alive connections to farm members, per worker.
///
/// Only connections that carried no connection-bound authentication (NTLM, Negotiate) are
/// ever put here; those stay bound to their client connection instead.
///
/// Taking and returning a connection happens once per proxied request, so both are plain
/// array operations: lists indexed by farm and member (no hashing), and no timer per
/// connection. A sweep every few seconds closes what has been idle for `idleTimeout`.
///
/// `@unchecked Sendable` for that sweep only: the pool is built with its worker (`Worker` in
/// Proxy), and from then on it is touched only on the worker's loop, where the sweep runs too.
package final class MemberPool: @unchecked Sendable {
    package struct Key: Hashable {
        package let farm: Int
        package let member: Int

        package init(farm: Int, member: Int) {
            self.farm = farm
            self.member = member
        }
    }

    /// Idle connections kept per member; the oldest beyond this are closed. It is sized for
    /// HTTP/2: every concurrent stream holds a member connection of its own, and a browser
    /// opens up to 100 at once, so 64 made most streams of a busy worker open a new connection
    /// (and the member close one) for each request.
    static let maxIdlePerMember = 1024
    /// Idle connections per member kept for the whole `idleTimeout`. Those beyond it go after
    /// `excessIdleTimeout`: they serve a load that is still there, not a burst that is over —
    /// a client cannot make the members hold a thousand idle connections for a minute.
    static let steadyIdlePerMember = 64
    /// How long an idle connection is kept (below IIS's default 120 s keep-alive).
    static let idleTimeout = TimeAmount.seconds(60)
    /// How long an idle connection beyond `steadyIdlePerMember` is kept.
    static let excessIdleTimeout = TimeAmount.seconds(5)
    /// How often expired idle connections are looked for: they live at most this much longer.
    static let sweepInterval = TimeAmount.seconds(5)

    /// By farm, then member: idle connections, the oldest first.
    private var idle: [[[MemberHandler]]]
    private var sweep: RepeatedTask?

    /// - Parameter members: the number of members of each farm, by farm index.
    package init(members: [Int], eventLoop: EventLoop) {
        idle = members.map { Array(repeating: [], count: $0) }
        // Holds the pool until `closeAll` cancels it (the worker's connection drain and stop do).
        sweep = eventLoop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { _ in
            self.closeExpired(now: .now())
        }
    }

    package func take(farm: Int, member: Int) -> MemberHandler? {
        guard idle.indices.contains(farm), idle[farm].indices.contains(member) else { return nil }
        // The newest first: it is the least likely to have been closed by the member.
        while let handler = idle[farm][member].popLast() {
            if handler.isUsable { return handler }
            handler.close()
        }
        return nil
    }

    package func put(_ handler: MemberHandler) {
        let farm = handler.farmIndex, member = handler.member
        guard idle.indices.contains(farm), idle[farm].indices.contains(member) else {
            handler.close()
            return
        }
        handler.enterPool(now: .now())
        if idle[farm][member].count >= Self.maxIdlePerMember {
            idle[farm][member].removeFirst().close()
        }
        idle[farm][member].append(handler)
    }

    package func remove(_ handler: MemberHandler) {
        let farm = handler.farmIndex, member = handler.member
        guard idle.indices.contains(farm), idle[farm].indices.contains(member) else { return }
        idle[farm][member].removeAll { $0 === handler }
    }

    /// Of idle connections that went idle at `idleSince` (the oldest first), how many the sweep
    /// at `now` closes: those idle for `idleTimeout`, and beyond the first `steadyIdlePerMember`
    /// those idle for `excessIdleTimeout`.
    package static func expiredCount(idleSince: [NIODeadline], now: NIODeadline) -> Int {
        let stale = idleSince.prefix { $0 <= now - idleTimeout }.count
        let excess = idleSince.count - steadyIdlePerMember
        guard excess > stale else { return stale }
        return min(excess, idleSince.prefix { $0 <= now - excessIdleTimeout }.count)
    }

    /// Closes the connections `expiredCount` picks.
    package func closeExpired(now: NIODeadline) {
        var expired: [MemberHandler] = []
        for farm in idle.indices {
            for member in idle[farm].indices {
                let stale = Self.expiredCount(idleSince: idle[farm][member].map(\.idleSince), now: now)
                guard stale > 0 else { continue }
                expired += idle[farm][member].prefix(stale)
                idle[farm][member].removeFirst(stale)
            }
        }
        for handler in expired { handler.close() }
    }

    /// Closes every idle connection and stops the sweep.
    package func closeAll() {
        sweep?.cancel()
        sweep = nil
        var all: [MemberHandler] = []
        for farm in idle.indices {
            for member in idle[farm].indices {
                all += idle[farm][member]
                idle[farm][member].removeAll()
            }
        }
        for handler in all { handler.close() }
    }
}
