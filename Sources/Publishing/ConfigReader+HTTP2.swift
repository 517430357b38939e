import Yams

extension ConfigReader {
    /// The `http2:` section.
    mutating func readHTTP2(_ node: Node) -> HTTP2Options? {
        guard let fields = readFields(of: node, path: "http2", owner: "http2", allowed: ConfigKeys.http2) else { return nil }
        var options = HTTP2Options()
        if let n = fields["enabled"], let v = bool(n, "http2.enabled") { options.enabled = v }
        if let n = fields["max_concurrent_streams"], let v = int(n, "http2.max_concurrent_streams", 1...10_000) {
            options.maxConcurrentStreams = v
        }
        if let n = fields["max_header_list_size"], let v = size(n, "http2.max_header_list_size", 1024...(16 << 20)) {
            options.maxHeaderListSize = v
        }
        if let n = fields["max_resets_per_second"], let v = int(n, "http2.max_resets_per_second", 1...100_000) {
            options.maxResetsPerSecond = v
        }
        return options
    }
}
