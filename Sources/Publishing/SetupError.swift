/// A problem found while building what a configuration names (certificates, keys, CAs,
/// the metrics endpoint), pinned to the configuration entry that caused it so `check` and
/// `serve` print `file:line:column`.
public struct SetupError: Error, CustomStringConvertible, Sendable {
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
