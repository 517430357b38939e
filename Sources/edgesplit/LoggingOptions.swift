import ArgumentParser
import Logging
import Proxy

/// `--log-level` and `--log-format` of `serve` and `demo`, and the one place that bootstraps
/// swift-log.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(help: "text (one line per message) or json (one JSON object per line).")
    var logFormat = "text"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--log-level '\(logLevel)': expected one of \(levels)")
        }
        guard LogFormat(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format '\(logFormat)': expected text or json")
        }
    }

    /// Bootstraps swift-log with ``LogLineHandler`` on stderr and returns the server's logger.
    /// Called once, by `serve` or `demo`, before anything makes a logger.
    func bootstrap() -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let format = LogFormat(rawValue: logFormat) ?? .text
        LoggingSystem.bootstrap { label in LogLineHandler(label: label, format: format, logLevel: level) }
        return Logger(label: "edgesplit")
    }
}
