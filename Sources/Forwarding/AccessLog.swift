#if canImport(Glibc)
import Glibc
#endif
import Publishing
import Admin

/// One access-log line: TMG/IIS W3C extended fields plus edgesplit's own.
package struct AccessRecord {
    package var start: timespec
    package var clientIP: String
    package var method: String
    package var uriStem: String
    package var uriQuery: String
    package var host: String
    package var status: Int
    package var bytesIn: Int
    package var bytesOut: Int
    package var timeTakenMs: Int
    package var rule: String
    package var farm: String
    package var member: String
    package var worker: Int
}

/// The access log file, shared by all workers. Each worker formats lines into its own
/// `AccessLogBuffer` and writes whole lines with one `write(2)` on an `O_APPEND`
/// descriptor, so lines from different workers never interleave and no lock is taken.
public final class AccessLog: Sendable {
    public let format: AccessLogFormat
    package let descriptor: CInt
    package let ownsDescriptor: Bool

    package static let fields = "date time c-ip cs-method cs-uri-stem cs-uri-query cs-host sc-status cs-bytes sc-bytes time-taken rule farm member worker"

    public init(settings: AccessLogSettings) throws {
        format = settings.format
        if settings.path == "-" {
            descriptor = 1
            ownsDescriptor = false
        } else {
            let fd = open(settings.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else {
                throw AccessLogError(path: settings.path, reason: String(cString: strerror(errno)))
            }
            descriptor = fd
            ownsDescriptor = true
        }
        if format == .w3c {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let (date, time) = Self.utcDateTime(now.tv_sec)
            let header = "#Software: edgesplit\n#Version: 1.0\n#Date: \(date) \(time)\n#Fields: \(Self.fields)\n"
            write(Array(header.utf8))
        }
    }

    package func write(_ bytes: [UInt8]) {
        FileBytes.write(bytes, to: descriptor)
    }

    public func close() {
        if ownsDescriptor { Glibc.close(descriptor) }
    }

    /// `YYYY-MM-DD`, `HH:MM:SS` in UTC, as W3C logs use.
    package static func utcDateTime(_ seconds: time_t) -> (String, String) {
        var t = seconds
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let date = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))"
        let time = "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        return (date, time)
    }
}

public struct AccessLogError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot open access log '\(path)': \(reason)" }
}

/// A worker's pending access-log lines; flushed when large and once a second.
package final class AccessLogBuffer {
    package let log: AccessLog
    private var buffer: [UInt8] = []
    private var cachedSecond: time_t = -1
    private var cachedDate = ""
    private var cachedTime = ""

    package init(log: AccessLog) {
        self.log = log
        buffer.reserveCapacity(64 * 1024)
    }

    package func append(_ record: AccessRecord) {
        if record.start.tv_sec != cachedSecond {
            cachedSecond = record.start.tv_sec
            (cachedDate, cachedTime) = AccessLog.utcDateTime(record.start.tv_sec)
        }
        switch log.format {
        case .w3c:
            let fields = [
                cachedDate, cachedTime, record.clientIP, w3c(record.method), w3c(record.uriStem),
                w3c(record.uriQuery), w3c(record.host), String(record.status), String(record.bytesIn),
                String(record.bytesOut), String(record.timeTakenMs), w3c(record.rule), w3c(record.farm),
                w3c(record.member), String(record.worker),
            ]
            buffer.append(contentsOf: fields.joined(separator: " ").utf8)
        case .json:
            var line = "{\"date\":\"\(cachedDate)\",\"time\":\"\(cachedTime)\""
            line += ",\"c-ip\":\(json(record.clientIP)),\"cs-method\":\(json(record.method))"
            line += ",\"cs-uri-stem\":\(json(record.uriStem)),\"cs-uri-query\":\(json(record.uriQuery))"
            line += ",\"cs-host\":\(json(record.host)),\"sc-status\":\(record.status)"
            line += ",\"cs-bytes\":\(record.bytesIn),\"sc-bytes\":\(record.bytesOut)"
            line += ",\"time-taken\":\(record.timeTakenMs),\"rule\":\(json(record.rule))"
            line += ",\"farm\":\(json(record.farm)),\"member\":\(json(record.member)),\"worker\":\(record.worker)}"
            buffer.append(contentsOf: line.utf8)
        }
        buffer.append(0x0A)
        if buffer.count >= 32 * 1024 { flush() }
    }

    package func flush() {
        guard !buffer.isEmpty else { return }
        log.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// W3C fields cannot hold spaces: `+` stands for a space, `-` for empty.
    private func w3c(_ value: String) -> String {
        if value.isEmpty { return "-" }
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            if scalar == " " {
                out.append("+")
            } else if scalar.value < 0x20 || scalar.value == 0x7F {
                out.append("%" + String(scalar.value, radix: 16, uppercase: true))
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private func json(_ value: String) -> String { JSONOutput.quote(value) }
}
