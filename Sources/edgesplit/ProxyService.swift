import Dispatch
import Logging
import NIOCore
import Proxy
import ServiceLifecycle
import UnixSignals

/// A running ``ProxyServer`` as a swift-service-lifecycle `Service`, run by `serve` and `demo`
/// in a `ServiceGroup` whose graceful shutdown signals are SIGTERM and SIGINT.
///
/// One stream of events drives it: the signals (SIGHUP reloads; SIGTERM and SIGINT drain
/// in-flight requests for `timeouts.shutdown` and end the service), a newer process retiring
/// this one through the control socket, and a graceful shutdown of the group that no signal
/// announced. The group and the service watch the same signals; the service's own watch names
/// the signal in the log line operators and scripts look for ("SIGTERM received").
/// `@unchecked Sendable`: the server's reloads and shutdown are serialised on its own
/// lifecycle queue, and the rest is immutable.
final class ProxyService: Service, @unchecked Sendable {
    private let server: ProxyServer
    private let shutdownDeadline: TimeAmount
    private let instance: String
    private let logger: Logger
    private let events: AsyncStream<String>
    private let post: AsyncStream<String>.Continuation
    private let signals: UnixSignalsSequence

    /// Watches the signals from here on, so one that arrives while the server starts is kept.
    init(server: ProxyServer, shutdownDeadline: TimeAmount, instance: String, logger: Logger) async {
        self.server = server
        self.shutdownDeadline = shutdownDeadline
        self.instance = instance
        self.logger = logger
        (events, post) = AsyncStream.makeStream(of: String.self)
        signals = await UnixSignalsSequence(trapping: .sighup, .sigterm, .sigint)
        server.onRetired = { [post] in post.yield("RETIRED") }
    }

    func run() async throws {
        let watcher = Task { [signals, post] in
            for await signal in signals { post.yield(Self.name(of: signal)) }
        }
        defer { watcher.cancel() }
        await withGracefulShutdownHandler {
            await serve()
        } onGracefulShutdown: { [post] in
            // A signal's own event names it and comes first; this one only stands in when the
            // group shuts down for another reason.
            Task {
                try? await Task.sleep(nanoseconds: 1_000_000_000)
                post.yield("shutdown requested")
            }
        }
    }

    private func serve() async {
        for await event in events {
            switch event {
            case "SIGHUP":
                do {
                    let generation = try await offloaded { try self.server.reloadFromSource() }
                    logger.notice(
                        "SIGHUP received; reloaded, generation \(generation)", metadata: ["signal": "SIGHUP", "generation": "\(generation)"])
                } catch {
                    logger.error(
                        "SIGHUP received; reload refused, the running configuration keeps serving:\n\(error)", metadata: ["signal": "SIGHUP"])
                }
            case "RETIRED":
                logger.notice(
                    "retired: a newer process took over instance '\(instance)'; its exchanges here are done",
                    metadata: ["instance": "\(instance)"])
                await offloaded { self.server.shutdown(deadline: .seconds(1)) }
                logger.notice("stopped")
                return
            default:
                logger.notice("\(event) received; finishing in-flight requests", metadata: ["signal": "\(event)"])
                await offloaded { self.server.shutdown(deadline: self.shutdownDeadline) }
                logger.notice("stopped")
                return
            }
        }
    }

    private static func name(of signal: UnixSignal) -> String {
        switch signal {
        case .sighup: return "SIGHUP"
        case .sigterm: return "SIGTERM"
        case .sigint: return "SIGINT"
        default: return "\(signal)"
        }
    }

    /// Reload and shutdown wait on the event loops: run them on a thread of their own, not on
    /// one of the cooperative pool's.
    private func offloaded<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    private func offloaded(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                work()
                continuation.resume()
            }
        }
    }
}
