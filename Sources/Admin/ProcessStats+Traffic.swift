extension ProcessStats {
    /// One listener's or one rule's requests, status classes, bytes and latency, summed over
    /// the workers.
    public struct Traffic: Codable, Sendable, Equatable {
        public var name: String
        public var requests: UInt64 = 0
        /// Answers by class: 1xx, 2xx, 3xx, 4xx, 5xx (written as `status_1xx` … `status_5xx`).
        public var statusClasses: [UInt64] = [0, 0, 0, 0, 0]
        public var bytesIn: UInt64 = 0
        public var bytesOut: UInt64 = 0
        /// Since the process started.
        public var latencyP50Milliseconds: Double = 0
        public var latencyP99Milliseconds: Double = 0
        /// Over the last 10 to 20 seconds.
        public var recentLatencyP50Milliseconds: Double = 0
        public var recentLatencyP99Milliseconds: Double = 0

        enum CodingKeys: String, CodingKey {
            case name, requests
            case status1xx = "status_1xx", status2xx = "status_2xx", status3xx = "status_3xx", status4xx = "status_4xx", status5xx = "status_5xx"
            case bytesIn = "bytes_in", bytesOut = "bytes_out"
            case latencyP50Milliseconds = "latency_p50_ms", latencyP99Milliseconds = "latency_p99_ms"
            case recentLatencyP50Milliseconds = "latency_recent_p50_ms", recentLatencyP99Milliseconds = "latency_recent_p99_ms"

            static let statusClasses: [CodingKeys] = [.status1xx, .status2xx, .status3xx, .status4xx, .status5xx]
        }

        public init(name: String) {
            self.name = name
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.value(.name, or: "?")
            requests = try c.value(.requests, or: 0)
            statusClasses = try CodingKeys.statusClasses.map { try c.value($0, or: 0) }
            bytesIn = try c.value(.bytesIn, or: 0)
            bytesOut = try c.value(.bytesOut, or: 0)
            latencyP50Milliseconds = try c.value(.latencyP50Milliseconds, or: 0)
            latencyP99Milliseconds = try c.value(.latencyP99Milliseconds, or: 0)
            recentLatencyP50Milliseconds = try c.value(.recentLatencyP50Milliseconds, or: 0)
            recentLatencyP99Milliseconds = try c.value(.recentLatencyP99Milliseconds, or: 0)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(requests, forKey: .requests)
            for (key, count) in zip(CodingKeys.statusClasses, statusClasses) { try c.encode(count, forKey: key) }
            try c.encode(bytesIn, forKey: .bytesIn)
            try c.encode(bytesOut, forKey: .bytesOut)
            try c.encode(latencyP50Milliseconds, forKey: .latencyP50Milliseconds)
            try c.encode(latencyP99Milliseconds, forKey: .latencyP99Milliseconds)
            try c.encode(recentLatencyP50Milliseconds, forKey: .recentLatencyP50Milliseconds)
            try c.encode(recentLatencyP99Milliseconds, forKey: .recentLatencyP99Milliseconds)
        }
    }
}
