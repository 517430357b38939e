#if canImport(Glibc)
import Glibc
#endif
import CEdgesplitBPF

/// The kernel half of L4 routes: the embedded sk_skb stream verdict program (BPF/splice.bpf.c)
/// attached to a SOCKHASH, so the bytes of a passed-through connection go from one socket
/// to its peer inside the kernel and never reach userspace.
///
/// Its maps are pinned under the instance directory beside the steering maps (`l4_socks`,
/// `l4_peers`, `l4_bytes`), so `edgesplit stats` can read the byte counters and a newer
/// process reuses them. Loading needs root (or CAP_BPF and CAP_NET_ADMIN); without it,
/// `init` throws a `SteeringError` and the proxy copies L4 connections in userspace.
/// Every method may be called from any thread: the kernel serialises map updates.
public final class SpliceProgram: @unchecked Sendable {
    static let pinNames = ["l4_socks", "l4_peers", "l4_bytes"]

    public let directory: String
    private var object: OpaquePointer?
    private let socksFD: CInt
    private let peersFD: CInt
    private let bytesFD: CInt

    /// Loads the program for `instance` and attaches it to its (pinned) socket map.
    public init(instance: String, pinRoot: String = InstanceMaps.defaultPinRoot) throws {
        try InstanceMaps.validate(instance: instance)
        directory = pinRoot + "/" + instance
        try SteeringProgram.ensureBPFFS(pinRoot)
        try SteeringProgram.makeDirectories(directory)
        es_libbpf_capture()
        var err: Int32 = 0
        guard let object = es_open_splice(directory, &err) else {
            throw SteeringError.from(errno: -err, "open the embedded splice object", detail: SteeringProgram.lastMessage())
        }
        let rc = bpf_object__load(object)
        if rc != 0 {
            let message = SteeringProgram.lastMessage()
            bpf_object__close(object)
            if message.contains("couldn't reuse pinned map") || message.contains("parameter mismatch") {
                throw SteeringError.layoutMismatch(instance: instance, detail: "libbpf: couldn't reuse the pinned splice maps")
            }
            if -rc == EPERM || -rc == EACCES { throw SteeringError.notPermitted(operation: "load the BPF splice program") }
            throw SteeringError.unsupported(reason: "loading splice_verdict failed: \(String(cString: strerror(-rc)))\(message.isEmpty ? "" : " (\(message))")")
        }
        guard let program = bpf_object__find_program_by_name(object, "splice_verdict") else {
            bpf_object__close(object)
            throw SteeringError.system(operation: "open the embedded splice object", errno: ENOENT, detail: "program splice_verdict missing")
        }
        let fds = Self.pinNames.map { (name: String) -> CInt in
            bpf_object__find_map_by_name(object, name).map { bpf_map__fd($0) } ?? -1
        }
        guard fds.allSatisfy({ $0 >= 0 }) else {
            bpf_object__close(object)
            throw SteeringError.system(operation: "open the embedded splice object", errno: ENOENT, detail: "splice maps missing")
        }
        (socksFD, peersFD, bytesFD) = (fds[0], fds[1], fds[2])
        // The verdict program belongs to the map: every socket added later runs it.
        if bpf_prog_attach(bpf_program__fd(program), socksFD, BPF_SK_SKB_STREAM_VERDICT, 0) != 0 {
            let e = errno
            bpf_object__close(object)
            if e == EPERM || e == EACCES { throw SteeringError.notPermitted(operation: "attach the BPF splice program") }
            throw SteeringError.unsupported(reason: "attaching splice_verdict to l4_socks failed: \(String(cString: strerror(e)))")
        }
        self.object = object
    }

    deinit { close(unpin: false) }

    /// Splices two connected TCP sockets: from now on what either receives is sent by the
    /// kernel on the other. Bytes they had received before are not seen by the program:
    /// the caller reads and forwards those itself. `route` selects the byte counters;
    /// `a` is the client side. On failure nothing is left in the maps.
    public func splice(client a: CInt, member b: CInt, route: Int) throws -> (client: UInt64, member: UInt64) {
        let ca = es_socket_cookie(a)
        let cb = es_socket_cookie(b)
        guard ca != 0, cb != 0 else { throw SteeringError.from(errno: errno, "read a socket cookie") }
        let base = UInt32(min(max(route, 0), Int(ES_MAX_L4_ROUTES) - 1) * 2)
        var peerOfA = es_splice_peer(peer_cookie: cb, counter: base + UInt32(ES_L4_TO_MEMBER), pad: 0)
        var peerOfB = es_splice_peer(peer_cookie: ca, counter: base + UInt32(ES_L4_TO_CLIENT), pad: 0)
        var keyA = ca
        var keyB = cb
        var fdA = UInt64(a)
        var fdB = UInt64(b)
        do {
            guard bpf_map_update_elem(peersFD, &keyA, &peerOfA, UInt64(BPF_ANY)) == 0,
                bpf_map_update_elem(peersFD, &keyB, &peerOfB, UInt64(BPF_ANY)) == 0
            else { throw SteeringError.from(errno: errno, "add to \(directory)/l4_peers") }
            guard bpf_map_update_elem(socksFD, &keyA, &fdA, UInt64(BPF_ANY)) == 0,
                bpf_map_update_elem(socksFD, &keyB, &fdB, UInt64(BPF_ANY)) == 0
            else { throw SteeringError.from(errno: errno, "add to \(directory)/l4_socks") }
        } catch {
            remove(ca, cb)
            throw error
        }
        return (ca, cb)
    }

    /// Takes both sockets of a spliced connection out of the maps (closing a socket removes
    /// it from `l4_socks` too; its `l4_peers` entry only goes here).
    public func remove(_ a: UInt64, _ b: UInt64) {
        for cookie in [a, b] {
            var key = cookie
            _ = bpf_map_delete_elem(socksFD, &key)
            _ = bpf_map_delete_elem(peersFD, &key)
        }
    }

    /// Bytes forwarded in the kernel since the maps were created, summed over CPUs.
    public func counters() throws -> SpliceCounters {
        try SpliceCounters.read(fd: bytesFD, path: directory + "/l4_bytes")
    }

    /// Releases the program; with `unpin`, removes the pinned splice maps too, and the
    /// instance directory when nothing else is pinned there.
    public func close(unpin: Bool) {
        guard let object else { return }
        bpf_object__close(object)
        self.object = nil
        if unpin {
            for name in Self.pinNames { _ = unlink(directory + "/" + name) }
            _ = rmdir(directory)
        }
    }
}

/// Bytes the splice program forwarded, by L4 route (the route's index in the configuration,
/// listeners in order) and direction.
public struct SpliceCounters: Sendable, Equatable {
    /// By route index: bytes from client to member.
    public var toMember: [UInt64]
    /// By route index: bytes from member to client.
    public var toClient: [UInt64]
    /// Bytes that arrived on a socket whose peer was already gone.
    public var dropped: UInt64

    static func read(fd: CInt, path: String) throws -> SpliceCounters {
        let cpus = Int(libbpf_num_possible_cpus())
        guard cpus > 0 else { throw SteeringError.system(operation: "count possible CPUs", errno: -Int32(cpus), detail: "") }
        var values = [UInt64](repeating: 0, count: cpus)
        // ES_L4_COUNTERS and ES_L4_CNT_DROPPED are expressions C macros do not export to Swift.
        let routes = Int(ES_MAX_L4_ROUTES)
        let dropped = 2 * routes
        var sums = [UInt64](repeating: 0, count: dropped + 1)
        for index in 0...UInt32(dropped) {
            var key = index
            guard bpf_map_lookup_elem(fd, &key, &values) == 0 else { throw SteeringError.from(errno: errno, "read \(path)") }
            sums[Int(index)] = values.reduce(0, &+)
        }
        return SpliceCounters(
            toMember: (0..<routes).map { sums[2 * $0 + Int(ES_L4_TO_MEMBER)] },
            toClient: (0..<routes).map { sums[2 * $0 + Int(ES_L4_TO_CLIENT)] },
            dropped: sums[dropped])
    }
}
