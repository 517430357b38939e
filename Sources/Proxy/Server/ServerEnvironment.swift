import Forwarding
import Foundation
import Logging

/// What the data plane needs from the world outside the configuration: how to read the
/// files a configuration names, where to log, and whether to steer in the kernel.
///
/// Certificate and key files are read through `readFile` so that the embedded demo can
/// serve its in-memory certificates under `demo:` names and tests can inject bytes; in
/// production it reads the file system.
public struct ServerEnvironment: Sendable {
    public var readFile: @Sendable (String) throws -> [UInt8]
    /// `serve` and `demo` pass the logger of the handler they bootstrapped (`--log-format`,
    /// `--log-level`); the default, made without a bootstrap, is swift-log's own (tests).
    public var logger: Logger
    /// Load the kernel steering program (needs root or CAP_BPF); `false` = plain reuseport.
    public var kernelSteering: Bool
    /// Root of the pinned BPF state (`<pinRoot>/<instance>/…`).
    public var pinRoot: String
    /// Overrides the configured worker count (tests, `--workers`).
    public var workers: Int?
    /// Where the control socket `<instance>.sock` lives; nil = no control socket.
    public var controlDirectory: String?
    /// Reads and compiles the configuration again, for SIGHUP and `edgesplit reload`;
    /// throws with the `check` messages when it is invalid. Nil = nothing to reload from.
    public var reloadConfiguration: (@Sendable () throws -> RuntimeConfiguration)?

    public init(
        readFile: @escaping @Sendable (String) throws -> [UInt8] = ServerEnvironment.readFileFromDisk,
        logger: Logger = Logger(label: "edgesplit"),
        kernelSteering: Bool = true,
        pinRoot: String = "/sys/fs/bpf/edgesplit",
        workers: Int? = nil,
        controlDirectory: String? = nil
    ) {
        self.readFile = readFile
        self.logger = logger
        self.kernelSteering = kernelSteering
        self.pinRoot = pinRoot
        self.workers = workers
        self.controlDirectory = controlDirectory
    }

    /// Where `serve`, `demo` and the `farm` commands find control sockets.
    public static var defaultControlDirectory: String {
        controlDirectory(environment: ProcessInfo.processInfo.environment, uid: geteuid())
    }

    /// `$EDGESPLIT_CONTROL_DIR` when set (the systemd unit sets `/run/edgesplit`);
    /// `/run/edgesplit` for root; for another user `$XDG_RUNTIME_DIR/edgesplit`, else
    /// `/run/user/<uid>/edgesplit` (where logind puts that runtime directory). Never a name in
    /// /tmp: another local user could create it first and own the socket's directory (the
    /// socket refuses such a directory, see `ControlSocket.prepareDirectory`).
    public static func controlDirectory(environment: [String: String], uid: uid_t) -> String {
        if let directory = environment["EDGESPLIT_CONTROL_DIR"], !directory.isEmpty { return directory }
        if uid == 0 { return "/run/edgesplit" }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return runtime + "/edgesplit" }
        return "/run/user/\(uid)/edgesplit"
    }

    /// Reads a whole file; errors name the path and the reason.
    @Sendable public static func readFileFromDisk(_ path: String) throws -> [UInt8] {
        try FileBytes.read(path)
    }
}
