/// Turns configuration text into an `EdgesplitConfig` and the diagnostics
/// `edgesplit check` prints. Pure: the caller reads the file; nothing here touches the
/// network or the disk.
public enum ConfigLoader {
    /// Guards against configurations that alias their way to huge sizes: list entries
    /// visited (each alias use counts again) beyond this are refused.
    public static let maximumListEntries = 10_000

    /// Parses and validates `yaml`; `file` only names positions in diagnostics. Reports
    /// every problem found, in file order; `config` is nil when any of them is an error.
    public static func load(yaml: String, file: String) -> ConfigLoadResult {
        var reader = ConfigReader(file: file)
        let config = reader.read(yaml: yaml)
        let diagnostics = reader.sortedDiagnostics
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return ConfigLoadResult(config: hasErrors ? nil : config, diagnostics: diagnostics)
    }
}
