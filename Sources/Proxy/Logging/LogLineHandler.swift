#if canImport(Glibc)
import Forwarding
import Glibc
#endif
import Logging

/// The swift-log handler `serve` and `demo` bootstrap: each message becomes one line in
/// `format` (see ``LogFormat/line(for:)``), written to standard error with one `write(2)`,
/// so lines from different threads never interleave.
public struct LogLineHandler: LogHandler {
    public let label: String
    public let format: LogFormat
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let descriptor: CInt

    public init(label: String, format: LogFormat, logLevel: Logger.Level, descriptor: CInt = STDERR_FILENO) {
        self.label = label
        self.format = format
        self.logLevel = logLevel
        self.descriptor = descriptor
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var layers = [metadata]
        if let provided = metadataProvider?.get() { layers.append(provided) }
        if let metadata = event.metadata { layers.append(metadata) }
        if let error = event.error { layers.append(["error": "\(error)"]) }
        let record = LogRecord(
            time: Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec / 1_000_000), level: event.level, label: label,
            message: event.message.description, metadata: LogRecord.flatten(layers))
        FileBytes.write(Array(format.line(for: record).utf8), to: descriptor)
    }
}
