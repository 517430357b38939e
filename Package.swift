// swift-tools-version:6.0
import PackageDescription

/// Pure targets (Affinity, Publishing, HTTP1, ConnectionCore, Members, Admin, ClientHello) build in
/// the Swift 6 language mode and import neither NIO nor libbpf; the shells stay thin around
/// them. The shells (Steering, EdgeTLS, L4, MemberConnections, AdminServer, Forwarding,
/// HTTP1Serving, HTTP2Serving, Proxy, Demo and the CLI) build in the Swift 6 mode too, without
/// concurrency warnings, so a data race the compiler can see is an error. Proxy imports the other
/// shells, never the reverse: they reach a client connection or the server through protocols and
/// hooks set above them (`MemberOwner`, `HealthEvents`, `AdminSource`; the worker's
/// `startHTTP2`, so that HTTP/1.1 hands a connection to HTTP/2 without importing it; the
/// `PassedThroughConnection` an L4 connection is to its worker). HTTP1Serving and HTTP2Serving
/// import Forwarding (the worker and the exchange path), never each other. State confined to an
/// event loop is reached through NIO's `assumeIsolated()` and `NIOLoopBound`; `ProxyServer`,
/// `Generation`, `Worker`, `MemberPool`, `HealthMonitor` and `MetricsEndpoint` are Sendable by the
/// disciplines their doc comments state. The test targets build in the Swift 5 mode.
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "edgesplit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "edgesplit", targets: ["edgesplit"]),
    ],
    dependencies: [
        // Exact versions: edgesplit reads private fields of swift-nio (`ChannelDescriptor`: the
        // socket's descriptor) and swift-nio-ssl (`BoringSSLAccess`: the SSL_CTX and SSL), and
        // leans on swift-nio-http2's behaviour (header validation off, see HTTP2Connection).
        // A new release is taken by changing the version here, with the suite run against it
        // (`BoringSSLAccessTests` fail first when a field moved), never by a fresh resolve.
        // Package.resolved is not committed: this machine's package mirror has its own commit
        // ids, so a committed file would not resolve elsewhere; the pins do its job for these.
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", exact: "1.46.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // The embedded BPF object and thin C shims over libbpf.
        .target(
            name: "CEdgesplitBPF",
            linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("elf"), .linkedLibrary("z")]
        ),
        // RSA handshake signatures by the host's OpenSSL 3 libcrypto (AVX-512 IFMA where the CPU has it).
        .target(name: "CHostRSA", linkerSettings: [.linkedLibrary("crypto")]),
        // Pure: masked client address, seeded hash, Maglev table.
        .target(name: "Affinity", swiftSettings: strict),
        // libbpf and sockets: listener groups, the steering program, pinned maps.
        .target(name: "Steering", dependencies: ["Affinity", "CEdgesplitBPF"], swiftSettings: strict),
        // Pure: configuration model, YAML loading with positions, validation, rule matching.
        .target(
            name: "Publishing",
            dependencies: ["Affinity", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // Pure: farm members on one worker: the balancer (persistence, passive health held
        // out for a while on an injected clock).
        .target(name: "Members", dependencies: ["Publishing", "Affinity"], swiftSettings: strict),
        // Pure: the admin side's models: the one JSON model (control protocol, stats, maps, the
        // dashboard feed), the merge of several edge hosts' stats, the dashboard's credentials
        // and the exported counters' continuity across reloads.
        .target(name: "Admin", dependencies: ["Publishing"], swiftSettings: strict),
        // Pure: strict HTTP/1.1 message head parsing and body framing, byte-exact.
        .target(name: "HTTP1", swiftSettings: strict),
        // Pure: the client side of a connection as state machines (HTTP/1.1 connection, the
        // exchange progress shared with HTTP/2 streams): events in, actions out.
        .target(name: "ConnectionCore", swiftSettings: strict),
        // Pure: strict, incremental TLS ClientHello parsing for routing by SNI at L4.
        .target(name: "ClientHello", swiftSettings: strict),
        // Pure: the config, ClientHello and request-head parsers as functions of arbitrary bytes,
        // for libFuzzer (Scripts/fuzz) and for replaying the committed corpora in the tests.
        .target(name: "Fuzzing", dependencies: ["Publishing", "HTTP1", "ClientHello"], swiftSettings: strict),
        // TLS: the listeners' certificates and SNI choice, session-ticket keys, OCSP staples,
        // the BoringSSL hooks behind them, RSA signing by the host's OpenSSL, TLS toward members.
        .target(
            name: "EdgeTLS",
            dependencies: [
                "Publishing", "CHostRSA",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        // L4 routes' mechanics: the glue handler on each side, the kernel splice's view of the
        // sockets (descriptor, TCP counters), the PROXY protocol v2 header.
        .target(
            name: "L4",
            dependencies: ["CEdgesplitBPF", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        // Connections to farm members: the member side of an exchange (`MemberHandler`, reporting
        // to its `MemberOwner`), the worker's pool of idle ones, the health checks, the
        // `test-rule --probe` probe.
        .target(
            name: "MemberConnections",
            dependencies: [
                "Publishing", "HTTP1", "EdgeTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strict
        ),
        // The admin side's servers and clients: the control socket and its client, `/metrics` and
        // the dashboard (asking the server through `AdminSource`), the event metrics, the
        // workers' counters, the stats sample.
        .target(
            name: "AdminServer",
            dependencies: [
                "Admin", "Publishing", "Steering", "Affinity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // A worker and what it owns: the runtime configuration, the farms' balancers, the
        // member pool, the per-source limits, the access log, the client connections it counts
        // and drains; the exchange path HTTP/1.1 connections and HTTP/2 streams share (planner,
        // member connections, accounting). No pipeline is built here: a connection whose ALPN
        // chose h2 is handed to HTTP/2 through the worker's `startHTTP2`, an L4 connection is
        // counted as a `PassedThroughConnection`.
        .target(
            name: "Forwarding",
            dependencies: [
                "Admin", "AdminServer", "Publishing", "HTTP1", "Members", "MemberConnections", "Steering", "Affinity",
                "CEdgesplitBPF", "EdgeTLS", "L4",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // HTTP/1.1 client connections: `ClientHandler`, the shell of `HTTP1ConnectionStateMachine`.
        .target(
            name: "HTTP1Serving",
            dependencies: [
                "Forwarding", "ConnectionCore", "HTTP1", "MemberConnections", "Publishing", "Affinity", "CEdgesplitBPF",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // HTTP/2 client connections: `HTTP2Connection` (the frames of every stream, flow control,
        // idle close and GOAWAY), `HTTP2Stream` (one stream as one exchange), `FlushCoalescer`.
        .target(
            name: "HTTP2Serving",
            dependencies: [
                "Forwarding", "ConnectionCore", "HTTP1", "MemberConnections", "Publishing", "Affinity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: strict
        ),
        // The server: generations (pipeline building), listeners, the ClientHello handler, the
        // L4 connection, what the admin side asks of the server, the server log.
        .target(
            name: "Proxy",
            dependencies: [
                "Admin", "AdminServer", "Publishing", "ClientHello", "Members", "MemberConnections", "Steering", "Affinity",
                "EdgeTLS", "L4", "Forwarding", "HTTP1Serving", "HTTP2Serving",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The embedded demo: in-memory certificates and Lync-like demo backends.
        .target(
            name: "Demo",
            dependencies: [
                "Admin", "Publishing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "edgesplit",
            dependencies: [
                "Admin", "AdminServer", "Proxy", "Forwarding", "MemberConnections", "EdgeTLS", "Publishing", "Steering", "Affinity",
                "Demo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "AffinityTests", dependencies: ["Affinity", "CEdgesplitBPF"]),
        .testTarget(
            name: "SteeringTests",
            dependencies: ["Steering", "Affinity", "CEdgesplitBPF", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "PublishingTests", dependencies: ["Publishing", "Affinity"]),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1"]),
        .testTarget(name: "ConnectionCoreTests", dependencies: ["ConnectionCore"]),
        .testTarget(name: "MembersTests", dependencies: ["Members", "Publishing", "Affinity"]),
        .testTarget(name: "AdminTests", dependencies: ["Admin", "Publishing"]),
        .testTarget(
            name: "AdminServerTests",
            dependencies: [
                "AdminServer", "Admin", "Publishing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "ClientHelloTests", dependencies: ["ClientHello", "Fuzzing"], resources: [.copy("Corpus")]),
        .testTarget(name: "FuzzingTests", dependencies: ["Fuzzing"], resources: [.copy("Corpus")]),
        .testTarget(
            name: "EdgeTLSTests",
            dependencies: ["EdgeTLS", "Demo", .product(name: "NIOSSL", package: "swift-nio-ssl")]
        ),
        .testTarget(
            name: "MemberConnectionsTests",
            dependencies: ["MemberConnections", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "L4Tests", dependencies: ["L4", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "ForwardingTests", dependencies: ["Forwarding"]),
        .testTarget(
            name: "HTTP1ServingTests",
            dependencies: [
                "HTTP1Serving", "Forwarding", "Publishing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "HTTP2ServingTests",
            dependencies: [
                "HTTP2Serving", "HTTP1",
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ProxyTests",
            dependencies: [
                "Proxy", "Forwarding", "Admin", "AdminServer", "Publishing", "Demo", "HTTP1", "Affinity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "DemoTests",
            dependencies: [
                "Demo",
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "EdgesplitTests", dependencies: ["edgesplit", "Proxy", "Publishing"]),
    ],
    swiftLanguageModes: [.v5]
)

/// The libFuzzer driver is built only when asked (`Scripts/fuzz` sets EDGESPLIT_FUZZ and builds it
/// with `-sanitize=fuzzer` under its own scratch path): libFuzzer supplies `main`, so the
/// executable cannot link in a normal build, and the normal build stays as it was.
if Context.environment["EDGESPLIT_FUZZ"] != nil {
    package.products.append(.executable(name: "edgesplit-fuzz", targets: ["edgesplit-fuzz"]))
    package.targets.append(
        .executableTarget(name: "edgesplit-fuzz", dependencies: ["Fuzzing"], path: "Scripts/fuzz.d/Sources", swiftSettings: strict)
    )
}
