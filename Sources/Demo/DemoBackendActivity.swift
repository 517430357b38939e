import NIOConcurrencyHelpers
import NIOCore

/// What a demo backend has seen so far, shared between its connections (any event loop) and the
/// test or CLI that reads it.
///
/// End-to-end tests use it to check what the proxy did on the backend side: how many backend
/// connections it opened (pooling, NTLM connection binding), and whether a client that hung up
/// during a UCWA long poll made the proxy hang up on the backend too.
final class DemoBackendActivity: Sendable {
    struct Counters {
        var connectionsAccepted = 0
        var requestsAnswered = 0
        var holdsStarted = 0
        var holdsCancelled = 0
        var open: [ObjectIdentifier: any Channel] = [:]
    }

    private let counters = NIOLockedValueBox(Counters())

    func accepted(_ channel: any Channel) {
        counters.withLockedValue {
            $0.connectionsAccepted += 1
            $0.open[ObjectIdentifier(channel)] = channel
        }
        channel.closeFuture.whenComplete { [counters] _ in
            counters.withLockedValue { _ = $0.open.removeValue(forKey: ObjectIdentifier(channel)) }
        }
    }

    func answered() { counters.withLockedValue { $0.requestsAnswered += 1 } }
    func holdStarted() { counters.withLockedValue { $0.holdsStarted += 1 } }
    func holdCancelled() { counters.withLockedValue { $0.holdsCancelled += 1 } }

    var snapshot: Counters { counters.withLockedValue { $0 } }

    /// The accepted connections still open, to close them on stop.
    var openChannels: [any Channel] { counters.withLockedValue { Array($0.open.values) } }
}
