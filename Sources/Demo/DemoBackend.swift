import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// An in-process HTTP/1.1 server that behaves like one Lync web-services member (a Front End on
/// 4443, a Director), so the demo and the end-to-end tests have something real to publish.
///
/// It binds `127.0.0.1` on an ephemeral port (unless told otherwise), optionally speaks TLS with a
/// certificate from the demo's internal ``CertificateAuthority``, answers the routes described in
/// ``DemoRouter`` (meet, dialin, Address Book NTLM, autodiscover, UCWA long poll, health), and
/// tags every response with `X-Demo-Member: <name>` so persistence and failover are visible.
public final class DemoBackend: Sendable {
    /// The member name, e.g. `pool-fe1`; also the `X-Demo-Member` value.
    public let name: String
    /// The certificate this member serves, or nil for plain HTTP (like Lync's 8080).
    public let tls: IssuedCertificate?
    /// The address actually bound.
    public let host: String
    private let boundPort: Int
    private let channel: any Channel
    private let activity: DemoBackendActivity

    /// The TCP port actually bound (ephemeral unless one was asked for).
    public var port: Int { boundPort }
    /// `host:port` as a farm member is written in the configuration (`[::1]:port` for IPv6).
    public var address: String { host.contains(":") ? "[\(host)]:\(boundPort)" : "\(host):\(boundPort)" }
    /// Whether this member speaks TLS.
    public var usesTLS: Bool { tls != nil }
    /// Connections accepted so far: lets a test see how the proxy pools backend connections.
    public var connectionsAccepted: Int { activity.snapshot.connectionsAccepted }
    /// Responses written so far.
    public var requestsAnswered: Int { activity.snapshot.requestsAnswered }
    /// UCWA long polls (pending GETs) received and put on hold so far.
    public var holdsStarted: Int { activity.snapshot.holdsStarted }
    /// UCWA long polls abandoned because the connection closed before the hold ended: shows
    /// that a client's disconnect travelled through the proxy to the backend.
    public var holdsCancelled: Int { activity.snapshot.holdsCancelled }

    private init(name: String, tls: IssuedCertificate?, host: String, port: Int, channel: any Channel, activity: DemoBackendActivity) {
        self.name = name
        self.tls = tls
        self.host = host
        self.boundPort = port
        self.channel = channel
        self.activity = activity
    }

    /// Starts a demo backend.
    ///
    /// - Parameters:
    ///   - name: member name, e.g. `pool-fe1`.
    ///   - tls: serve HTTPS with this certificate (its PEM key and certificate), or nil for HTTP.
    ///   - host: address to bind; tests only use `127.0.0.1` or `::1`.
    ///   - port: port to bind; 0 (the default) for an ephemeral port.
    ///   - group: the event loops to run on.
    public static func start(
        name: String,
        tls: IssuedCertificate? = nil,
        host: String = "127.0.0.1",
        port: Int = 0,
        on group: any EventLoopGroup
    ) async throws -> DemoBackend {
        let sslContext = try tls.map { try makeSSLContext($0) }
        let activity = DemoBackendActivity()
        let routerTemplate = DemoRouter(member: name, port: 0, tls: tls != nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                activity.accepted(channel)
                return channel.eventLoop.makeCompletedFuture {
                    var router = routerTemplate
                    router.port = channel.localAddress?.port ?? 0  // an accepted TCP socket always has one
                    let sync = channel.pipeline.syncOperations
                    if let sslContext {
                        try sync.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try sync.addHandler(DemoHTTPHandler(router: router, activity: activity))
                }
            }
            .bind(host: host, port: port)
            .get()
        guard let bound = channel.localAddress?.port else {
            try? await channel.close()
            throw DemoError.noLocalPort(name: name)
        }
        return DemoBackend(name: name, tls: tls, host: host, port: bound, channel: channel, activity: activity)
    }

    /// Stops listening and closes every open connection (held long polls included).
    public func stop() async throws {
        do {
            try await channel.close()
        } catch ChannelError.alreadyClosed {
            // Stopping twice is fine.
        }
        for child in activity.openChannels {
            try? await child.close()
        }
    }

    /// A server TLS context for `certificate`: TLS 1.2+ (Lync 2013+ front ends speak 1.2), ALPN
    /// `http/1.1` only, like IIS publishing to a reverse proxy.
    static func makeSSLContext(_ certificate: IssuedCertificate) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMBytes(certificate.certificatePEMBytes)
        let key = try NIOSSLPrivateKey(bytes: certificate.privateKeyPEMBytes, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }
}
