import Histogram

/// Request latencies as a Prometheus histogram in the text format, rendered from the workers'
/// HDR histograms (microseconds) at each scrape.
///
/// Why not swift-prometheus's own histogram: it is fed one observation at a time, which would
/// put a shared, atomically updated metric on every request of every worker. The workers keep
/// their own HDR histograms instead (no lock, no shared cache line), and the exporter turns
/// them into cumulative buckets: `le` counts are exact at HDR's precision (two significant
/// digits), `_count` is exact, `_sum` is the HDR mean × count.
package struct LatencyHistogramText {
    /// Bucket bounds in seconds: from a cached Lync page (a few ms) to the 960 s member
    /// response timeout (long polls of Lync Web App and the mobility service).
    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 960]

    let name: String
    let help: String
    package private(set) var text = ""

    package init(name: String, help: String) {
        self.name = name
        self.help = help
        text = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
    }

    /// Adds one series: `labels` in order, `histogram` in microseconds.
    package mutating func add(labels: [(String, String)], histogram: Histogram<UInt32>) {
        let base = labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }
        for bound in Self.buckets {
            let upTo = UInt64((bound * 1_000_000).rounded())
            let count = histogram.totalCount == 0 ? 0 : histogram.count(within: 0...upTo)
            text += "\(name)_bucket{\((base + ["le=\"\(Self.format(bound))\""]).joined(separator: ","))} \(count)\n"
        }
        let total = histogram.totalCount
        text += "\(name)_bucket{\((base + ["le=\"+Inf\""]).joined(separator: ","))} \(total)\n"
        let seconds = total == 0 ? 0 : histogram.mean * Double(total) / 1_000_000
        let braces = base.isEmpty ? "" : "{\(base.joined(separator: ","))}"
        text += "\(name)_sum\(braces) \(Self.format(seconds))\n"
        text += "\(name)_count\(braces) \(total)\n"
    }

    /// A label value in the text format: backslash, double quote and newline escaped.
    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// Shortest decimal form ("0.005", "1", "960").
    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }
}
