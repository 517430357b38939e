import Foundation

/// How edgesplit writes JSON: every document (the control socket's replies, `stats --json`,
/// the dashboard feed, `maps --json`, `bpf --json`, `test-rule --json`) goes through one
/// encoder, so the same model prints the same text wherever it appears.
///
/// Keys are sorted: the output is stable from run to run, which scripts that diff it rely
/// on. Slashes are left as they are (`/sys/fs/bpf/…`, not `\/sys\/fs\/bpf\/…`).
public enum JSONOutput {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// `value` as JSON bytes.
    ///
    /// Only a number JSON cannot write (infinity, NaN) makes encoding fail. The models keep
    /// such figures out (`null` instead), so a failure is a bug to report, never a reason to
    /// stop a serving process: it is answered as a refusal that says what happened.
    public static func data<Value: Encodable>(_ value: Value, pretty: Bool = false) -> Data {
        do {
            return try encoder(pretty: pretty).encode(value)
        } catch {
            return Data(("{\"error\":" + quote("edgesplit could not write this JSON: \(error)") + ",\"ok\":false}").utf8)
        }
    }

    /// `value` as JSON text: one line, or indented with `pretty`.
    public static func text<Value: Encodable>(_ value: Value, pretty: Bool = false) -> String {
        String(decoding: data(value, pretty: pretty), as: UTF8.self)
    }

    /// A JSON string literal for `s`, for a writer that builds its lines by hand (the access
    /// log writes one per request and cannot afford an encoder each time).
    public static func quote(_ s: String) -> String {
        "\"" + escaped(s) + "\""
    }

    /// `s` escaped for the inside of a JSON string literal (quotes, backslashes, controls).
    public static func escaped(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }
}
