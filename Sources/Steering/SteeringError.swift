#if canImport(Glibc)
import Glibc
#endif

/// Why steering could not be set up or changed, in words an operator can act on.
/// `description` is the one line the CLI prints after `edgesplit: error: `.
public enum SteeringError: Error, Equatable, CustomStringConvertible {
    /// Not root and no CAP_BPF (or unprivileged BPF is disabled on this host).
    case notPermitted(operation: String)
    /// The kernel refused the program or a map type (no BPF support, too old a kernel).
    case unsupported(reason: String)
    /// No BPF filesystem at the pin root (and it could not be mounted).
    case bpffsMissing(path: String)
    /// No pinned state for the instance.
    case noSuchInstance(instance: String, path: String)
    /// Pinned maps of another map layout exist for the instance.
    case layoutMismatch(instance: String, detail: String)
    /// The instance is still running (its sockarray holds listening sockets).
    case instanceRunning(instance: String, sockets: Int)
    case invalidInstanceName(String)
    case workerOutOfRange(worker: Int, workers: Int)
    case workerCount(Int)
    case lastUndrainedWorker(worker: Int)
    case badAddress(String)
    case badPrefix(family: String, value: Int)
    case addressInUse(address: String, port: Int)
    case portPermissionDenied(address: String, port: Int)
    case addressNotAvailable(address: String)
    case tooManyGroups(max: Int)
    case groupWorkerMismatch(group: Int, program: Int)
    /// Any other failed system call or libbpf call.
    case system(operation: String, errno: Int32, detail: String)

    public var description: String {
        switch self {
        case .notPermitted(let operation):
            return "\(operation): operation not permitted (run as root or with CAP_BPF)"
        case .unsupported(let reason):
            return "BPF steering is not supported here: \(reason)"
        case .bpffsMissing(let path):
            return "no BPF filesystem at \(path) (mount it: mount -t bpf bpf /sys/fs/bpf)"
        case .noSuchInstance(let instance, let path):
            return "no such instance '\(instance)': nothing pinned at \(path) (is edgesplit serve running with --instance \(instance)?)"
        case .layoutMismatch(let instance, let detail):
            return "pinned maps of instance '\(instance)' have another layout (\(detail)); stop that instance and run `edgesplit bpf unload --instance \(instance)`"
        case .instanceRunning(let instance, let sockets):
            return "instance '\(instance)' is running (\(sockets) listening sockets in its sockarray); stop it first, or pass --force"
        case .invalidInstanceName(let name):
            return "invalid instance name '\(name)': use letters, digits, '.', '_' or '-'"
        case .workerOutOfRange(let worker, let workers):
            return "worker \(worker) out of range: this instance has workers 0...\(workers - 1)"
        case .workerCount(let n):
            return "invalid worker count \(n): expected 1...\(SteeringConfigurationLimits.maxWorkers)"
        case .lastUndrainedWorker(let worker):
            return "refusing to drain worker \(worker): it is the last undrained worker"
        case .badAddress(let text):
            return "bad address '\(text)': expected an IPv4 or IPv6 literal"
        case .badPrefix(let family, let value):
            return "bad \(family) prefix \(value): expected 0...\(family == "IPv4" ? 32 : 128)"
        case .addressInUse(let address, let port):
            return "cannot listen on \(ListenerGroup.format(address, port)): address already in use"
        case .portPermissionDenied(let address, let port):
            return "cannot listen on \(ListenerGroup.format(address, port)): permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        case .addressNotAvailable(let address):
            return "cannot listen on \(address): the address is not configured on this host"
        case .tooManyGroups(let max):
            return "too many listener groups: at most \(max) per instance"
        case .groupWorkerMismatch(let group, let program):
            return "listener group has \(group) sockets but the steering program was set up for \(program) workers"
        case .system(let operation, let code, let detail):
            let reason = String(cString: strerror(code))
            return detail.isEmpty ? "\(operation): \(reason)" : "\(operation): \(reason) (\(detail))"
        }
    }

    /// Maps a failed call's errno to the operator's reason.
    static func from(errno code: Int32, _ operation: String, detail: String = "") -> SteeringError {
        switch code {
        case EPERM, EACCES: return .notPermitted(operation: operation)
        case ENOSYS, EOPNOTSUPP, 524 /* ENOTSUPP */:
            return .unsupported(reason: "\(operation): \(String(cString: strerror(code)))\(detail.isEmpty ? "" : " (\(detail))")")
        default: return .system(operation: operation, errno: code, detail: detail)
        }
    }
}

enum SteeringConfigurationLimits {
    static let maxWorkers = 64
    static let maxGroups = 16
}
