import Publishing

/// A certificate, key or CA problem found while building TLS contexts, pinned to the
/// configuration entry that caused it so `check` and `serve` print `file:line:column`.
public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public let position: SourcePosition
    public let message: String

    public init(_ position: SourcePosition, _ message: String) {
        self.position = position
        self.message = message
    }

    public var description: String {
        "\(position.file):\(position.line):\(position.column): error: \(message)"
    }
}
