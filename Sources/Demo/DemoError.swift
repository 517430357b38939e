/// Errors of the embedded demo, each with a message an operator can act on.
public enum DemoError: Error, Equatable, CustomStringConvertible {
    /// `readFile` was asked for a path the demo does not serve.
    case noSuchFile(path: String, available: [String])
    /// An IP address given for a certificate's subject alternative names did not parse.
    case invalidIPAddress(String)
    /// A validity period that ends before it starts.
    case invalidValidity(days: Int)
    /// A private key PEM that is not the key of the certificate it came with.
    case keyDoesNotMatchCertificate
    /// A backend's listening socket reported no port (should not happen on TCP).
    case noLocalPort(name: String)

    public var description: String {
        switch self {
        case .noSuchFile(let path, let available):
            return "demo: no such file '\(path)'; the demo serves \(available.joined(separator: ", "))"
        case .invalidIPAddress(let text):
            return "demo: '\(text)' is not an IPv4 or IPv6 address (subject alternative name)"
        case .invalidValidity(let days):
            return "demo: validity of \(days) days; expected at least 1 day"
        case .keyDoesNotMatchCertificate:
            return "demo: the private key does not belong to the certificate"
        case .noLocalPort(let name):
            return "demo: backend '\(name)' has no local port after bind"
        }
    }
}
