import Forwarding
import Foundation
import Logging
import Proxy
import Publishing
import XCTest

/// edgesplit's data plane started in-process from configuration text, on ephemeral ports.
///
/// The configuration loader only accepts listener ports 1...65535, so every listener is
/// rebound to port 0 after loading: the kernel picks a free port and `ports` says which.
/// Kernel steering is off (plain SO_REUSEPORT) unless `kernel` (then the configuration
/// should name a unique instance); `workers` defaults to one so that pooling and NTLM
/// binding, which are per worker, are observable.
final class ProxyHarness {
    let server: ProxyServer
    /// Bound port per listener, in configuration order.
    let ports: [Int]
    private var stopped = false

    /// The first listener's port.
    var port: Int { ports[0] }

    init(
        yaml: String, files: [String: [UInt8]] = [:], workers: Int = 1, kernel: Bool = false,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let result = ConfigLoader.load(yaml: yaml, file: "test.yaml")
        guard var config = result.config else {
            XCTFail("configuration rejected: \(result.diagnostics.map(\.description))", file: file, line: line)
            throw HarnessError.invalidConfiguration(result.diagnostics.map(\.description))
        }
        for index in config.listeners.indices { config.listeners[index].port = 0 }
        config.admin.metrics?.port = 0
        let readFile: @Sendable (String) throws -> [UInt8] = { path in
            guard let bytes = files[path] else { throw HarnessError.missingFile(path) }
            return bytes
        }
        let runtime = try RuntimeConfiguration(config: config, readFile: readFile)
        var logger = Logger(label: "edgesplit-test")
        logger.logLevel = .warning
        server = ProxyServer(
            runtime: runtime,
            environment: ServerEnvironment(readFile: readFile, logger: logger, kernelSteering: kernel, workers: workers)
        )
        try server.start()
        ports = server.boundPorts
    }

    /// Reloads the running server with `yaml`, its listeners on the ports already bound.
    @discardableResult
    func reload(yaml: String, files: [String: [UInt8]] = [:]) throws -> Int {
        let result = ConfigLoader.load(yaml: yaml, file: "test.yaml")
        guard var config = result.config else {
            throw HarnessError.invalidConfiguration(result.diagnostics.map(\.description))
        }
        for index in config.listeners.indices where index < ports.count { config.listeners[index].port = ports[index] }
        config.admin.metrics = server.runtime.config.admin.metrics
        let runtime = try RuntimeConfiguration(config: config, readFile: { path in
            guard let bytes = files[path] else { throw HarnessError.missingFile(path) }
            return bytes
        })
        return try server.reload(to: runtime)
    }

    /// Drains and releases everything; safe to call twice.
    func stop() {
        guard !stopped else { return }
        stopped = true
        server.shutdown(deadline: .milliseconds(500))
    }

    deinit { stop() }
}

enum HarnessError: Error {
    case invalidConfiguration([String])
    case missingFile(String)
}

/// A port nothing listens on: bound once to learn a free number, then released.
func refusingPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    precondition(bound)
    return Int(UInt16(bigEndian: address.sin_port))
}
