import Forwarding
import Foundation
import Logging
import Proxy
import Publishing

/// Loading a configuration file the way `check`, `serve` and `demo` share: every problem
/// printed as `file:line:column: severity: message` (the warnings of a configuration that
/// `serve` or `demo` runs are logged instead), errors stop the command.
enum ConfigurationFile {
    struct Invalid: Error {}

    /// Parses and validates YAML text. A refused configuration prints every diagnostic to
    /// stderr, as `check` does; an accepted one prints its warnings there too, or logs them
    /// with `warnings` (`serve` and `demo`, whose logger may write JSON).
    static func load(yaml: String, file: String, warnings: Logger? = nil) throws -> EdgesplitConfig {
        let result = ConfigLoader.load(yaml: yaml, file: file)
        guard let config = result.config else {
            for diagnostic in result.diagnostics { Stderr.line(diagnostic.description) }
            throw Invalid()
        }
        report(result.diagnostics, to: warnings)
        return config
    }

    static func load(path: String) throws -> EdgesplitConfig {
        try load(yaml: read(path: path), file: path)
    }

    /// Warnings of an accepted configuration: `check`'s lines on stderr, or one log message each.
    private static func report(_ diagnostics: [ConfigDiagnostic], to logger: Logger?) {
        for diagnostic in diagnostics {
            if let logger {
                logger.warning("\(diagnostic.message)", metadata: ["config": "\(diagnostic.position)"])
            } else {
                Stderr.line(diagnostic.description)
            }
        }
    }

    /// The file's text; prints why not and throws when it cannot be read.
    static func read(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            Stderr.line("\(path): error: cannot read the configuration file")
            throw Invalid()
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Builds TLS contexts and resolves members; prints certificate errors with positions,
    /// and warnings as ``load(yaml:file:warnings:)`` does. `source` is the text `config` came
    /// from (its digest is what `stats` shows).
    static func compile(
        _ config: EdgesplitConfig,
        source: String? = nil,
        readFile: (String) throws -> [UInt8] = { try ServerEnvironment.readFileFromDisk($0) },
        warnings: Logger? = nil
    ) throws -> RuntimeConfiguration {
        do {
            let runtime = try RuntimeConfiguration(config: config, readFile: readFile, source: source)
            report(runtime.warnings, to: warnings)
            return runtime
        } catch let errors as SetupErrors {
            for error in errors.errors { Stderr.line(error.description) }
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

