/// A place in a configuration file, as an editor shows it: 1-based line and column
/// (columns count Unicode scalars, as libyaml does).
public struct SourcePosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, the form compilers use, so editors and terminals link it.
    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// One finding of `edgesplit check`: where, how bad, and a message that names the bad
/// value and what was expected.
public struct ConfigDiagnostic: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Hashable, Sendable {
        /// The configuration cannot be used.
        case error
        /// The configuration works but probably not as intended.
        case warning
    }

    public var severity: Severity
    public var position: SourcePosition
    public var message: String

    public init(severity: Severity, position: SourcePosition, message: String) {
        self.severity = severity
        self.position = position
        self.message = message
    }

    public static func error(_ message: String, at position: SourcePosition) -> ConfigDiagnostic {
        ConfigDiagnostic(severity: .error, position: position, message: message)
    }

    public static func warning(_ message: String, at position: SourcePosition) -> ConfigDiagnostic {
        ConfigDiagnostic(severity: .warning, position: position, message: message)
    }

    /// `file:line:column: error: message`.
    public var description: String { "\(position): \(severity.rawValue): \(message)" }
}

/// What `ConfigLoader.load` found: the configuration when it is usable, and every
/// diagnostic in file order.
public struct ConfigLoadResult: Sendable {
    /// Nil when any diagnostic is an error.
    public var config: EdgesplitConfig?
    public var diagnostics: [ConfigDiagnostic]

    public init(config: EdgesplitConfig?, diagnostics: [ConfigDiagnostic]) {
        self.config = config
        self.diagnostics = diagnostics
    }

    public var errors: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .warning } }
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}
