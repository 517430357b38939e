import CEdgesplitBPF
import NIOCore

/// What an L4 connection reads of its TCP sockets beside NIO. Once the kernel splices a
/// connection, NIO no longer sees its bytes: TCP's own counters and state tell how far the
/// splice has carried them, whether the peer ended, and how long the socket has been idle.
package enum L4Socket {
    /// Payload bytes `fd` received in order, and bytes ever queued on it for sending.
    package static func byteCounts(_ fd: CInt) -> (received: UInt64, queued: UInt64) {
        var received: UInt64 = 0
        var queued: UInt64 = 0
        _ = es_tcp_byte_counts(fd, &received, &queued)
        return (received, queued)
    }

    /// Whether the peer's FIN arrived on `fd`; also true when TCP's state cannot be read.
    package static func finReceived(_ fd: CInt) -> Bool {
        es_tcp_fin_received(fd) != 0
    }

    /// Milliseconds since `fd` last received or sent payload; nil when it cannot be read.
    package static func idleMilliseconds(_ fd: CInt) -> UInt32? {
        var milliseconds: UInt32 = 0
        return es_tcp_idle_ms(fd, &milliseconds) == 0 ? milliseconds : nil
    }

    /// Reads what `fd` has queued, without blocking, into `buffer`; returns the bytes read.
    package static func drain(_ fd: CInt, into buffer: inout ByteBuffer) -> Int {
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        var total = 0
        while true {
            let n = scratch.withUnsafeMutableBytes { es_recv_nonblocking(fd, $0.baseAddress, UInt($0.count)) }
            guard n > 0 else { return total }
            buffer.writeBytes(scratch[0..<Int(n)])
            total += Int(n)
        }
    }
}
