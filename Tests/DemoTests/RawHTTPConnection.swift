import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A response exactly as bytes arrived, split into status, header lines and body.
struct RawResponse {
    var statusLine: String
    var status: Int
    /// Header fields in arrival order; repeated names stay separate.
    var headers: [(name: String, value: String)]
    var body: String

    func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    func first(_ name: String) -> String? { values(name).first }
}

/// The client side of a test connection to a demo backend: raw request bytes out, raw response
/// bytes in, over TCP or TLS on 127.0.0.1, so the tests see what a proxy would see on the wire
/// (two separate `WWW-Authenticate` lines, `100 Continue`, keep-alive).
struct RawHTTPConnection {
    enum Failure: Error { case closedBeforeResponse(received: String) }

    /// TLS settings for the client: the CA to trust and the name to verify (and send as SNI).
    struct TLS {
        var context: NIOSSLContext
        var serverName: String

        init(trusting caPEM: String, serverName: String) throws {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(caPEM.utf8), format: .pem)])
            configuration.applicationProtocols = ["http/1.1"]
            self.context = try NIOSSLContext(configuration: configuration)
            self.serverName = serverName
        }
    }

    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var received: [UInt8] = []

    /// Connects to `127.0.0.1:port`, runs `body` with the connection, then closes it.
    static func with<Result: Sendable>(
        port: Int,
        tls: TLS? = nil,
        host: String = "127.0.0.1",
        _ body: (inout RawHTTPConnection) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverName)
                        )
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = RawHTTPConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&connection)
        }
    }

    /// Writes `text` as is (the caller writes the CRLFs).
    func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    /// Sends a GET (or other bodiless request) with `Host` and extra header lines.
    func request(_ target: String, method: String = "GET", host: String = "webext.contoso.test", headers: [String] = []) async throws {
        let lines = ["\(method) \(target) HTTP/1.1", "Host: \(host)"] + headers
        try await send(lines.joined(separator: "\r\n") + "\r\n\r\n")
    }

    /// Reads the next response. Interim (1xx) responses are returned too unless skipped.
    mutating func readResponse(skipInterim: Bool = true, bodiless: Bool = false) async throws -> RawResponse {
        while true {
            if let response = parse(bodiless: bodiless) {
                if skipInterim, (100..<200).contains(response.status) { continue }
                return response
            }
            guard let chunk = try await inbound.next() else {
                throw Failure.closedBeforeResponse(received: String(decoding: received, as: UTF8.self))
            }
            received += chunk.readableBytesView
        }
    }

    /// Whether the server closed the connection (reads until EOF).
    mutating func readUntilClosed() async throws -> Bool {
        while let chunk = try await inbound.next() { received += chunk.readableBytesView }
        return true
    }

    /// Takes one complete response off the front of `received`, if there is one.
    private mutating func parse(bodiless: Bool) -> RawResponse? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = received.indices.first(where: { received[$0...].starts(with: separator) }) else { return nil }
        let headText = String(decoding: received[..<end], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let status = Int(statusLine.split(separator: " ")[1]) ?? 0
        let headers = lines.map { line -> (name: String, value: String) in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let bodyStart = end + separator.count
        var length = 0
        if !bodiless, !(100..<200).contains(status) {
            length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        }
        guard received.count >= bodyStart + length else { return nil }
        let body = String(decoding: received[bodyStart..<(bodyStart + length)], as: UTF8.self)
        received.removeFirst(bodyStart + length)
        return RawResponse(statusLine: statusLine, status: status, headers: headers, body: body)
    }
}
