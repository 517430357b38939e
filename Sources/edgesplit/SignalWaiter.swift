import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Blocks until SIGTERM, SIGINT or SIGHUP. The signals are ignored by default handlers from
/// construction on, so one that arrives during start-up is not lost.
final class SignalWaiter {
    private let semaphore = DispatchSemaphore(value: 0)
    private var sources: [DispatchSourceSignal] = []
    private var received = ""
    private let queue = DispatchQueue(label: "edgesplit.signals")

    init() {
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGHUP, "SIGHUP")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [weak self] in
                guard let self, self.received.isEmpty else { return }
                self.received = name
                self.semaphore.signal()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Wakes `wait()` with an event that is not a signal (e.g. `RETIRED`).
    func post(_ event: String) {
        queue.async { [self] in
            guard received.isEmpty else { return }
            received = event
            semaphore.signal()
        }
    }

    /// The name of the signal (or posted event) that arrived; ready for the next one after it returns.
    func wait() -> String {
        semaphore.wait()
        return queue.sync {
            let name = received
            received = ""
            return name
        }
    }
}
