extension ProcessStats {
    /// One worker (event loop with its own listening sockets): connections, TLS, requests,
    /// what the limits refused and its HTTP/2 counters.
    public struct Worker: Codable, Sendable, Equatable {
        public var worker: Int
        public var accepted: UInt64 = 0
        /// Connections open now.
        public var active: Int = 0
        public var tlsHandshakes: UInt64 = 0
        public var tlsResumed: UInt64 = 0
        public var tlsHandshakeFailures: UInt64 = 0
        public var clientHelloMalformed: UInt64 = 0
        public var clientHelloTimeouts: UInt64 = 0
        public var requests: UInt64 = 0
        /// Refusals per limit, by the limit's configuration name (`requests_per_minute`, …).
        public var limited: [String: UInt64] = [:]
        /// Client sources the limits track now.
        public var limitSources: Int = 0
        public var limitSourcesEvicted: UInt64 = 0
        public var limitUntracked: UInt64 = 0
        public var http2 = HTTP2()

        enum CodingKeys: String, CodingKey {
            case worker, accepted, active, requests, limited, http2
            case tlsHandshakes = "tls_handshakes", tlsResumed = "tls_resumed", tlsHandshakeFailures = "tls_handshake_failures"
            case clientHelloMalformed = "client_hello_malformed", clientHelloTimeouts = "client_hello_timeouts"
            case limitSources = "limit_sources", limitSourcesEvicted = "limit_sources_evicted", limitUntracked = "limit_untracked"
        }

        public init(worker: Int) {
            self.worker = worker
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            worker = try c.value(.worker, or: 0)
            accepted = try c.value(.accepted, or: 0)
            active = try c.value(.active, or: 0)
            tlsHandshakes = try c.value(.tlsHandshakes, or: 0)
            tlsResumed = try c.value(.tlsResumed, or: 0)
            tlsHandshakeFailures = try c.value(.tlsHandshakeFailures, or: 0)
            clientHelloMalformed = try c.value(.clientHelloMalformed, or: 0)
            clientHelloTimeouts = try c.value(.clientHelloTimeouts, or: 0)
            requests = try c.value(.requests, or: 0)
            limited = try c.value(.limited, or: [:])
            limitSources = try c.value(.limitSources, or: 0)
            limitSourcesEvicted = try c.value(.limitSourcesEvicted, or: 0)
            limitUntracked = try c.value(.limitUntracked, or: 0)
            http2 = try c.value(.http2, or: HTTP2())
        }
    }

    /// One worker's HTTP/2 connections and what it closed or refused. The workers count in
    /// this type too (on their event loops, without locks).
    public struct HTTP2: Codable, Sendable, Equatable {
        /// Connections that chose `h2` in ALPN.
        public var connections: UInt64 = 0
        /// Streams opened by clients (each one request).
        public var streams: UInt64 = 0
        /// Streams reset with HTTP_1_1_REQUIRED: the member asked for NTLM or Negotiate, which
        /// authenticates a connection and cannot work over multiplexed streams.
        public var http11Required: UInt64 = 0
        /// Connections closed (GOAWAY PROTOCOL_ERROR) for opening more than `max_concurrent_streams`.
        public var streamLimitCloses: UInt64 = 0
        /// Connections ended for a header block over `max_header_list_size` or one that could not
        /// be decoded (GOAWAY with PROTOCOL_ERROR or COMPRESSION_ERROR).
        public var headerListRejections: UInt64 = 0
        /// Connections ended because the client reset streams faster than `max_resets_per_second`
        /// (GOAWAY with ENHANCE_YOUR_CALM).
        public var rapidResetCloses: UInt64 = 0
        /// Streams reset with PROTOCOL_ERROR for a malformed request (RFC 9113 §8.1.1).
        public var malformedStreams: UInt64 = 0

        enum CodingKeys: String, CodingKey {
            case connections, streams
            case http11Required = "http11_required", streamLimitCloses = "stream_limit_closes"
            case headerListRejections = "header_list_rejections", rapidResetCloses = "rapid_reset_closes"
            case malformedStreams = "malformed_streams"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            connections = try c.value(.connections, or: 0)
            streams = try c.value(.streams, or: 0)
            http11Required = try c.value(.http11Required, or: 0)
            streamLimitCloses = try c.value(.streamLimitCloses, or: 0)
            headerListRejections = try c.value(.headerListRejections, or: 0)
            rapidResetCloses = try c.value(.rapidResetCloses, or: 0)
            malformedStreams = try c.value(.malformedStreams, or: 0)
        }

        /// Adds another worker's counts (totals over workers).
        public mutating func add(_ other: HTTP2) {
            connections &+= other.connections
            streams &+= other.streams
            http11Required &+= other.http11Required
            streamLimitCloses &+= other.streamLimitCloses
            headerListRejections &+= other.headerListRejections
            rapidResetCloses &+= other.rapidResetCloses
            malformedStreams &+= other.malformedStreams
        }
    }
}
