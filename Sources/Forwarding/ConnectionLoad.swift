import Steering

/// The connections open on one event loop, over every generation on it, mirrored into the
/// kernel's `loads` map for bounded-load steering (`affinity.balance_factor`). The process
/// keeps one per loop for its whole life, like ``SourceCounts``: a reload's old and new
/// workers on a loop are one thread, one load.
///
/// Counted as accepted, before per-source limits or TLS, and given back by the channel's
/// close future, whatever handlers the connection ended up with. Touched only on the loop.
package final class ConnectionLoad {
    package let worker: Int
    package private(set) var open = 0
    /// The process's row of the `loads` map; nil without kernel steering.
    package var kernel: WorkerLoads?

    package init(worker: Int) { self.worker = worker }

    package func opened() {
        open += 1
        kernel?.store(worker: worker, active: open)
    }

    package func closed() {
        open -= 1
        kernel?.store(worker: worker, active: open)
    }
}
