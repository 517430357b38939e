#if canImport(Glibc)
import Glibc
#endif
import Affinity
import CEdgesplitBPF
@testable import Steering
import XCTest

/// Kernel tests need root (CAP_BPF, bpffs, netns). Unprivileged they skip with the reason,
/// except under CI=true, where a missing privilege is a failure.
func requireKernelPrivilege(file: StaticString = #filePath, line: UInt = #line) throws {
    guard geteuid() != 0 else { return }
    let reason = "needs root (CAP_BPF, bpffs, network namespaces); running as uid \(geteuid())"
    if let ci = getenv("CI"), String(cString: ci) == "true" {
        XCTFail("CI=true: " + reason, file: file, line: line)
        throw XCTSkip(reason)
    }
    throw XCTSkip(reason)
}

private let instanceCounter = Counter()
private final class Counter: @unchecked Sendable {
    private var value = 0
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func next() -> Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        value += 1
        return value
    }
}

/// A unique instance name per test, so pinned state never collides.
func uniqueInstance(_ tag: String) -> String { "test-\(getpid())-\(instanceCounter.next())-\(tag)" }

/// A steering program with one listener group, torn down (sockets closed, pins removed)
/// by `close()`, which tests call in `defer`.
final class SteeringFixture {
    let program: SteeringProgram
    var groups: [ListenerGroup] = []
    let instance: String

    init(tag: String, workers: Int = 4, mask: AffinityMask = .host, seed: UInt32 = 0x5EED, balance: BoundedLoad? = nil) throws {
        instance = uniqueInstance(tag)
        program = try SteeringProgram(.init(instance: instance, mask: mask, seed: seed, workers: workers, balance: balance))
    }

    @discardableResult
    func listen(_ address: String, port: Int = 0, workers: Int = 4) throws -> ListenerGroup {
        let group = try ListenerGroup(address: address, port: port, workers: workers)
        groups.append(group)
        try program.attach(group)
        return group
    }

    func maps() throws -> InstanceMaps { try InstanceMaps(instance: instance) }

    func close() {
        for g in groups { g.close() }
        program.close(unpin: true)
    }
}

/// Makes sockaddr storage for an address literal and port.
func socketAddress(_ text: String, port: Int) -> (sockaddr_storage, socklen_t, Int32) {
    var storage = sockaddr_storage()
    if text.contains(":") {
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = in_port_t(UInt16(port).bigEndian)
        _ = inet_pton(AF_INET6, text, &sin6.sin6_addr)
        withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: sin6) { dst.copyMemory(from: $0) } }
        return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size), AF_INET6)
    }
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = in_port_t(UInt16(port).bigEndian)
    _ = inet_pton(AF_INET, text, &sin.sin_addr)
    withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: sin) { dst.copyMemory(from: $0) } }
    return (storage, socklen_t(MemoryLayout<sockaddr_in>.size), AF_INET)
}

/// Connects from `source` to `destination`:`port` (plain blocking TCP). Returns the client fd.
func connectFrom(_ source: String, to destination: String, port: Int) throws -> CInt {
    var (src, srcLen, family) = socketAddress(source, port: 0)
    var (dst, dstLen, _) = socketAddress(destination, port: port)
    let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw TestError("socket: \(errno)") }
    var one: Int32 = 1
    if family == AF_INET6 {
        _ = setsockopt(fd, Int32(IPPROTO_IPV6), 78 /* IPV6_FREEBIND */, &one, 4)
    }
    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
    _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    let b = withUnsafePointer(to: &src) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, srcLen) } }
    guard b == 0 else { let e = errno; Glibc.close(fd); throw TestError("bind \(source): errno \(e)") }
    let c = withUnsafePointer(to: &dst) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, dstLen) } }
    guard c == 0 else { let e = errno; Glibc.close(fd); throw TestError("connect \(source) → \(destination):\(port): errno \(e)") }
    return fd
}

/// Accepts `expected` connections across the group's listeners and returns, per accepted
/// connection, the peer address and the worker (listener index) that accepted it.
func acceptAll(_ group: ListenerGroup, expected: Int, timeoutMs: Int32 = 3000) throws -> [(ClientAddress, Int)] {
    try acceptAll(descriptors: group.descriptors, expected: expected, timeoutMs: timeoutMs)
}

/// The same over explicit listener fds; the worker is the index in `descriptors`.
func acceptAll(descriptors: [CInt], expected: Int, timeoutMs: Int32 = 3000) throws -> [(ClientAddress, Int)] {
    var result: [(ClientAddress, Int)] = []
    var pfds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    while result.count < expected {
        let n = poll(&pfds, nfds_t(pfds.count), timeoutMs)
        guard n > 0 else { throw TestError("accepted \(result.count) of \(expected) connections before the timeout") }
        for (worker, p) in pfds.enumerated() where p.revents & Int16(POLLIN) != 0 {
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(p.fd, $0, &len) }
            }
            guard fd >= 0 else { continue }
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            Glibc.close(fd)
            result.append((peer(of: storage), worker))
        }
        for i in pfds.indices { pfds[i].revents = 0 }
    }
    return result
}

func peer(of storage: sockaddr_storage) -> ClientAddress {
    withUnsafeBytes(of: storage) { raw in
        let family = raw.load(fromByteOffset: 0, as: sa_family_t.self)
        if Int32(family) == AF_INET {
            return ClientAddress(bytes: Array(raw[4..<8]))!
        }
        return ClientAddress(bytes: Array(raw[8..<24]))!  // sin6_addr; mapped folds to IPv4
    }
}

/// Connects once from every source and returns which worker accepted each source.
func workersBySource(_ group: ListenerGroup, sources: [String], destination: String, repetitions: Int = 1) throws -> [ClientAddress: Set<Int>] {
    var seen: [ClientAddress: Set<Int>] = [:]
    let batch = 200
    for _ in 0..<repetitions {
        var start = 0
        while start < sources.count {
            let chunk = sources[start..<min(start + batch, sources.count)]
            var clients: [CInt] = []
            defer { for fd in clients { Glibc.close(fd) } }
            for s in chunk { clients.append(try connectFrom(s, to: destination, port: group.port)) }
            for (address, worker) in try acceptAll(group, expected: chunk.count) {
                seen[address, default: []].insert(worker)
            }
            start += batch
        }
    }
    return seen
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A network namespace of the test's own, entered on the calling thread only (so bpffs
/// stays visible) and deleted by `leave()`, also when the test failed.
final class TestNamespace {
    let name: String
    private let original: CInt

    init() throws {
        name = "edgesplit-test-\(getpid())"
        _ = shell("ip netns del \(name) 2>/dev/null")
        guard shell("ip netns add \(name)") == 0 else { throw TestError("ip netns add \(name) failed") }
        original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard shell("ip -n \(name) link set lo up") == 0,
            shell("ip -n \(name) -6 route add local fd00::/16 dev lo") == 0
        else {
            _ = shell("ip netns del \(name)")
            throw TestError("setting up \(name) failed")
        }
        let fd = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0, es_setns_net(fd) == 0 else {
            if fd >= 0 { Glibc.close(fd) }
            _ = shell("ip netns del \(name)")
            throw TestError("setns into \(name) failed: errno \(errno)")
        }
        Glibc.close(fd)
    }

    func leave() {
        _ = es_setns_net(original)
        Glibc.close(original)
        _ = shell("ip netns del \(name)")
    }
}

@discardableResult
func shell(_ command: String) -> Int32 {
    system(command)
}
