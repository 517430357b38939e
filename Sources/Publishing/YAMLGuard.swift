import Yams

/// What stands between arbitrary text and the YAML composer: size limits, the one alias
/// construction that could make composing explode, and YAML errors as diagnostics.
enum YAMLGuard {
    /// A configuration is a few kilobytes; anything this large is not one.
    static let maximumBytes = 4 << 20

    /// Refuses input the composer should not see. Aliases are fine as values (the loader
    /// budgets list entries), but an alias inside a mapping key is hashed, expanded, by the
    /// composer's duplicate-key check, so "billion laughs" keys would hang it: with aliases
    /// present, complex keys (`? `, `[...]:`, `{...}:`, `*alias :`) are refused.
    static func check(_ yaml: String, file: String) -> ConfigDiagnostic? {
        if yaml.utf8.count > maximumBytes {
            return .error("the configuration is larger than \(maximumBytes >> 20) MiB", at: SourcePosition(file: file, line: 1, column: 1))
        }
        let bytes = Array(yaml.utf8)
        guard containsAlias(bytes) else { return nil }
        var line = 1
        var lineStart = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\n") {
                line += 1
                lineStart = i + 1
            } else if startsComplexKey(bytes, at: i) {
                let column = String(decoding: bytes[lineStart..<i], as: UTF8.self).unicodeScalars.count + 1
                return .error(
                    "complex mapping keys cannot be combined with aliases; write keys as plain names",
                    at: SourcePosition(file: file, line: line, column: column)
                )
            }
            i += 1
        }
        return nil
    }

    static func isAnchorByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return b >= 0x80
        }
    }

    static func isTokenStart(_ bytes: [UInt8], _ i: Int) -> Bool {
        guard i > 0 else { return true }
        switch bytes[i - 1] {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"),
             UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","):
            return true
        default:
            return false
        }
    }

    static func containsAlias(_ bytes: [UInt8]) -> Bool {
        for i in bytes.indices where bytes[i] == UInt8(ascii: "*") && i + 1 < bytes.count {
            if isTokenStart(bytes, i), isAnchorByte(bytes[i + 1]) { return true }
        }
        return false
    }

    /// Whether `i` is where a complex key shows: `? `, a flow collection or an alias
    /// followed by `:`.
    static func startsComplexKey(_ bytes: [UInt8], at i: Int) -> Bool {
        let b = bytes[i]
        func followedByValueIndicator(_ j: Int) -> Bool {
            var k = j
            while k < bytes.count, bytes[k] == UInt8(ascii: " ") || bytes[k] == UInt8(ascii: "\t") { k += 1 }
            guard k < bytes.count, bytes[k] == UInt8(ascii: ":") else { return false }
            return k + 1 == bytes.count || [UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"), UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(bytes[k + 1])
        }
        if b == UInt8(ascii: "?"), isTokenStart(bytes, i) || bytes[i - 1] == UInt8(ascii: "-"),
           i + 1 == bytes.count || [UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t")].contains(bytes[i + 1])
        {
            return true
        }
        if b == UInt8(ascii: "]") || b == UInt8(ascii: "}"), followedByValueIndicator(i + 1) { return true }
        if b == UInt8(ascii: "*"), isTokenStart(bytes, i), i + 1 < bytes.count, isAnchorByte(bytes[i + 1]) {
            var j = i + 1
            while j < bytes.count, isAnchorByte(bytes[j]) { j += 1 }
            if followedByValueIndicator(j) { return true }
        }
        return false
    }

    /// A Yams error as a diagnostic at the position libyaml reported.
    static func diagnostic(for error: any Error, yaml: String, file: String) -> ConfigDiagnostic {
        func at(_ mark: Mark?) -> SourcePosition {
            SourcePosition(file: file, line: max(1, mark?.line ?? 1), column: max(1, mark?.column ?? 1))
        }
        guard let yamlError = error as? YamlError else {
            return .error("invalid YAML: \(error)", at: at(nil))
        }
        switch yamlError {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            var message = "invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            if wildcardAliasLikely(yaml, line: mark.line, contextLine: context?.mark.line) {
                message += "; a name starting with '*' must be quoted, as in \"*.contoso.com\""
            }
            if problem.contains("Maximum nesting level") {
                message = "invalid YAML: nested too deeply"
            }
            return .error(message, at: at(mark))
        case let .reader(problem, offset, _, _):
            var line = 1
            var column = 1
            if let offset {
                // libyaml's offset counts bytes of the UTF-8 input; columns count scalars.
                for byte in yaml.utf8.prefix(offset) {
                    if byte == UInt8(ascii: "\n") {
                        line += 1
                        column = 1
                    } else if byte & 0xC0 != 0x80 {
                        column += 1
                    }
                }
            }
            return .error("invalid YAML: \(problem)", at: SourcePosition(file: file, line: line, column: column))
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return .error("duplicate key \(keys) in one mapping; each key may appear once", at: at(context.mark))
        default:
            return .error("invalid YAML: \(yamlError)", at: at(nil))
        }
    }

    static func wildcardAliasLikely(_ yaml: String, line: Int, contextLine: Int?) -> Bool {
        var current = 1
        for text in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == line || current == contextLine {
                let bytes = Array(text.utf8)
                for i in bytes.indices where bytes[i] == UInt8(ascii: "*") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: ".") {
                    if isTokenStart(bytes, i) { return true }
                }
            }
            if current > line { break }
            current += 1
        }
        return false
    }
}
