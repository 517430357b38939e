import Dispatch
import Logging

/// Keeps a generation's OCSP staples in step with their files: each configured `ocsp` file
/// is looked at every second (a `stat`; it is read only when its inode, size or mtime
/// changed), so an operator or a cron job can replace the response with a fresh one and
/// the next handshakes staple it, without a reload. A file that goes missing or fails the
/// check is logged as an error and stops the stapling for that certificate.
package final class OCSPStapleWatch {
    static let pollInterval = DispatchTimeInterval.seconds(1)

    private let certificates: [(listener: String, entry: ListenerCertificates.Entry)]
    private let logger: Logger
    private var timer: DispatchSourceTimer?

    /// `listeners`: each listener's name and its certificates (nil for a plain-HTTP listener).
    package init(listeners: [(name: String, certificates: ListenerCertificates?)], logger: Logger) {
        certificates = listeners.flatMap { listener in
            (listener.certificates?.entries ?? []).filter { $0.hooks.ocspPath != nil }.map {
                (listener: listener.name, entry: $0)
            }
        }
        self.logger = logger
    }

    package func start() {
        guard !certificates.isEmpty, timer == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "edgesplit.ocsp-staples"))
        timer.schedule(deadline: .now() + Self.pollInterval, repeating: Self.pollInterval, leeway: .milliseconds(100))
        timer.setEventHandler { [certificates, logger] in
            for (listener, entry) in certificates {
                guard let change = entry.hooks.refreshStaple() else { continue }
                let metadata: Logger.Metadata = [
                    "listener": "\(listener)", "subject": "\(entry.subject)", "file": "\(entry.hooks.ocspPath ?? "")",
                ]
                switch change {
                case .stapled(let thisUpdate, let nextUpdate):
                    logger.info("OCSP staple updated", metadata: metadata.merging(
                        ["this_update": "\(thisUpdate)", "next_update": "\(nextUpdate.map { "\($0)" } ?? "-")"]
                    ) { a, _ in a })
                case .rejected(let reason):
                    logger.error("OCSP staple dropped: \(reason)", metadata: metadata)
                case .notConfigured:
                    break
                }
            }
        }
        timer.resume()
        self.timer = timer
    }

    package func stop() {
        timer?.cancel()
        timer = nil
    }
}
