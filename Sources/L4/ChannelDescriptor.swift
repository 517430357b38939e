import CEdgesplitBPF
import NIOCore

/// The file descriptor of a NIO socket channel, which the splice map needs and NIO keeps to
/// itself (`BaseSocketChannel.socket`, `BaseSocket.descriptor`). It is read by reflection
/// and trusted only when the socket behind it has exactly the channel's local and remote
/// addresses (a 4-tuple names one connected socket); otherwise nil, and the caller copies
/// in userspace instead.
package enum ChannelDescriptor {
    package static func of(_ channel: Channel) -> CInt? {
        guard let socket = field("socket", of: channel), let descriptor = field("descriptor", of: socket) as? CInt,
            descriptor >= 0, let local = channel.localAddress, let remote = channel.remoteAddress
        else { return nil }
        let matches = local.withSockAddr { localPointer, localLength in
            remote.withSockAddr { remotePointer, remoteLength in
                es_socket_has_endpoints(descriptor, localPointer, socklen_t(localLength), remotePointer, socklen_t(remoteLength))
            }
        }
        return matches == 1 ? descriptor : nil
    }

    private static func field(_ name: String, of value: Any) -> Any? {
        var mirror: Mirror? = Mirror(reflecting: value)
        while let current = mirror {
            if let child = current.children.first(where: { $0.label == name }) { return child.value }
            mirror = current.superclassMirror
        }
        return nil
    }
}
