import Foundation
import Proxy
import Publishing

/// Loading a configuration file the way `check`, `serve` and `demo` share: every problem
/// printed as `file:line:column: severity: message`, errors stop the command.
enum ConfigurationFile {
    struct Invalid: Error {}

    /// Parses and validates YAML text; prints diagnostics to stderr.
    static func load(yaml: String, file: String) throws -> EdgesplitConfig {
        let result = ConfigLoader.load(yaml: yaml, file: file)
        for diagnostic in result.diagnostics { printError(diagnostic.description) }
        guard let config = result.config else { throw Invalid() }
        return config
    }

    static func load(path: String) throws -> EdgesplitConfig {
        try load(yaml: read(path: path), file: path)
    }

    /// The file's text; prints why not and throws when it cannot be read.
    static func read(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            printError("\(path): error: cannot read the configuration file")
            throw Invalid()
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Builds TLS contexts and resolves members; prints certificate errors with positions.
    /// `source` is the text `config` came from (its digest is what `stats` shows).
    static func compile(
        _ config: EdgesplitConfig,
        source: String? = nil,
        readFile: (String) throws -> [UInt8] = { try ServerEnvironment.readFileFromDisk($0) }
    ) throws -> RuntimeConfiguration {
        do {
            let runtime = try RuntimeConfiguration(config: config, readFile: readFile, source: source)
            for warning in runtime.warnings { printError(warning.description) }
            return runtime
        } catch let errors as SetupErrors {
            for error in errors.errors { printError(error.description) }
            throw Invalid()
        }
    }
}

extension ConfigurationFile {
    /// Reads, validates and compiles the file again for a reload; throws the `check`
    /// messages (and nothing is printed) when it is invalid.
    static func loadForReload(path: String) throws -> RuntimeConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProxyServer.ReloadRefused("\(path): error: cannot read the configuration file")
        }
        let text = String(decoding: data, as: UTF8.self)
        let result = ConfigLoader.load(yaml: text, file: path)
        guard let config = result.config else {
            throw ProxyServer.ReloadRefused(result.diagnostics.map(\.description).joined(separator: "\n"))
        }
        do {
            return try RuntimeConfiguration(
                config: config, readFile: { try ServerEnvironment.readFileFromDisk($0) }, source: text)
        } catch let errors as SetupErrors {
            throw ProxyServer.ReloadRefused(errors.description)
        }
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
