import NIOCore

/// Idle keep-alive connections to farm members, per worker.
///
/// Only connections that carried no connection-bound authentication (NTLM, Negotiate) are
/// ever put here; those stay bound to their client connection instead.
final class BackendPool {
    struct Key: Hashable {
        let farm: Int
        let member: Int
    }

    /// Idle connections kept per member; the oldest beyond this are closed.
    static let maxIdlePerMember = 64
    /// How long an idle connection is kept (below IIS's default 120 s keep-alive).
    static let idleTimeout = TimeAmount.seconds(60)

    private var idle: [Key: [BackendHandler]] = [:]

    func take(farm: Int, member: Int) -> BackendHandler? {
        let key = Key(farm: farm, member: member)
        // Mutated in place: copying the idle list out and back costs a copy per request.
        while let handler = idle[key]?.popLast() {
            handler.leavePool()
            if handler.isUsable { return handler }
            handler.close()
        }
        return nil
    }

    func put(_ handler: BackendHandler) {
        let key = Key(farm: handler.farmIndex, member: handler.member)
        if idle[key, default: []].count >= Self.maxIdlePerMember {
            idle[key]?.removeFirst().close()
        }
        idle[key, default: []].append(handler)
        handler.enterPool(timeout: Self.idleTimeout)
    }

    func remove(_ handler: BackendHandler) {
        let key = Key(farm: handler.farmIndex, member: handler.member)
        idle[key]?.removeAll { $0 === handler }
    }

    func closeAll() {
        let all = idle.values.flatMap { $0 }
        idle.removeAll()
        for handler in all { handler.close() }
    }
}
