#if canImport(Glibc)
import Glibc
#endif
import Logging

/// How `serve` and `demo` write their log lines (`--log-format`).
public enum LogFormat: String, CaseIterable, Sendable {
    /// `edgesplit: [level: ]message key=value…`, one line per message with no time (journald
    /// stamps each line; a terminal does not need it). Info and notice carry no level word, so
    /// the lifecycle lines read as before: `edgesplit: serving instance 'lab' with 4 workers`.
    case text
    /// One JSON object per line: `time` (ISO 8601, UTC, milliseconds), `level`, `label`,
    /// `message`, then the metadata as string fields, sorted by key.
    case json
}

/// One message as the formatter sees it: pure values, so that record → line is a function
/// tested without a process, a clock or a file descriptor.
public struct LogRecord: Sendable, Equatable {
    /// Milliseconds since 1970-01-01 UTC.
    public var time: Int64
    public var level: Logger.Level
    public var label: String
    public var message: String
    /// Flattened: nested dictionaries as dotted keys (`a.b`), arrays as their description.
    public var metadata: [String: String]

    public init(time: Int64, level: Logger.Level, label: String, message: String, metadata: [String: String] = [:]) {
        self.time = time
        self.level = level
        self.label = label
        self.message = message
        self.metadata = metadata
    }

    /// swift-log metadata as string fields; later entries of `layers` override earlier ones
    /// (handler metadata, then the metadata provider's, then the call site's).
    public static func flatten(_ layers: [Logger.Metadata]) -> [String: String] {
        var fields: [String: String] = [:]
        for layer in layers {
            for (key, value) in layer { flatten(value, key: key, into: &fields) }
        }
        return fields
    }

    private static func flatten(_ value: Logger.MetadataValue, key: String, into fields: inout [String: String]) {
        switch value {
        case .dictionary(let nested):
            for (inner, value) in nested { flatten(value, key: key + "." + inner, into: &fields) }
        default:
            fields[key] = value.description
        }
    }
}

extension LogFormat {
    /// The fields every JSON line starts with; a metadata key that repeats one of them is
    /// written as `metadata.<key>` so that it cannot hide the record's own.
    static let coreFields: Set<String> = ["time", "level", "label", "message"]

    /// The line for `record`, newline included.
    public func line(for record: LogRecord) -> String {
        switch self {
        case .text: return Self.text(record)
        case .json: return Self.json(record)
        }
    }

    private static func text(_ record: LogRecord) -> String {
        var line = record.label + ": "
        if record.level != .info && record.level != .notice { line += record.level.rawValue + ": " }
        line += escaped(record.message, keepingLineBreaks: true)
        for key in record.metadata.keys.sorted() {
            line += " " + textToken(key) + "=" + textToken(record.metadata[key]!)
        }
        return line + "\n"
    }

    private static func json(_ record: LogRecord) -> String {
        var line = "{\"time\":\"" + iso8601(milliseconds: record.time) + "\""
        line += ",\"level\":" + quoted(record.level.rawValue)
        line += ",\"label\":" + quoted(record.label)
        line += ",\"message\":" + quoted(record.message)
        let renamed = record.metadata.map { key, value in (coreFields.contains(key) ? "metadata." + key : key, value) }
        for (key, value) in renamed.sorted(by: { $0.0 < $1.0 }) {
            line += "," + quoted(key) + ":" + quoted(value)
        }
        return line + "}\n"
    }

    /// A metadata key or value in a text line: as it is when it is a plain word, else quoted
    /// and escaped like a JSON string (so `key=value` pairs stay splittable on spaces).
    static func textToken(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar.value != 0x7F && scalar != "\"" && scalar != "=" && scalar != "\\"
                && !(0x80...0x9F).contains(scalar.value)
        }
        return plain ? value : quoted(value)
    }

    /// `value` as a JSON string literal (RFC 8259 §7): quote, backslash and control characters
    /// escaped; other characters, non-ASCII included, as they are (the line is UTF-8).
    static func quoted(_ value: String) -> String {
        "\"" + escaped(value, keepingLineBreaks: false) + "\""
    }

    /// JSON string escapes. With `keepingLineBreaks` (a text message), quotes and backslashes
    /// stay as they are and newlines and tabs stay real: only other control characters, which
    /// could rewrite a terminal or forge a line, are escaped.
    static func escaped(_ value: String, keepingLineBreaks: Bool) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(value.unicodeScalars.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"" where !keepingLineBreaks: result += "\\\""
            case "\\" where !keepingLineBreaks: result += "\\\\"
            case "\n" where !keepingLineBreaks: result += "\\n"
            case "\r": result += "\\r"
            case "\t" where !keepingLineBreaks: result += "\\t"
            case "\n", "\t": result.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                    result += "\\u" + hex4(scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// `2026-12-06T08:15:42.123Z`.
    static func iso8601(milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
        let millis = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(Int(parts.tm_year) + 1900, 4) + "-" + pad(Int(parts.tm_mon) + 1, 2) + "-" + pad(Int(parts.tm_mday), 2)
            + "T" + pad(Int(parts.tm_hour), 2) + ":" + pad(Int(parts.tm_min), 2) + ":" + pad(Int(parts.tm_sec), 2)
            + "." + pad(millis, 3) + "Z"
    }
}
