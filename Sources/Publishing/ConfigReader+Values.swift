import Yams

/// Typed readers over YAML nodes: each either returns the value or records a diagnostic
/// that names the key path, the bad value and what was expected.
extension ConfigReader {
    func isNull(_ node: Node) -> Bool {
        guard case let .scalar(scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func isSequence(_ node: Node) -> Bool {
        if case .sequence = node { return true }
        return false
    }

    /// How a value is shown in "got …": short, quoted, never the whole document.
    func describe(_ node: Node) -> String {
        switch node {
        case let .scalar(scalar):
            if isNull(node) { return "nothing" }
            let text = scalar.string
            let shown = text.unicodeScalars.count > 60 ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(57))) + "..." : text
            return "'\(shown.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined())'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The `name:` of a mapping, when there is a readable one (for messages about it).
    func nameOf(_ node: Node) -> String? {
        guard case let .mapping(mapping) = node else { return nil }
        for (key, value) in mapping where key.scalar?.string == "name" {
            if case let .scalar(s) = value, !isNull(value) { return s.string }
        }
        return nil
    }

    mutating func readFields(of node: Node, path: String, owner: String, allowed: [String]) -> Fields? {
        guard case let .mapping(mapping) = node else {
            let at = path.isEmpty ? "the configuration" : path
            error("\(at): expected a mapping of \(allowed.joined(separator: ", ")), got \(describe(node))", at: node)
            return nil
        }
        var fields = Fields(node: node, path: path)
        for (key, value) in mapping {
            guard case let .scalar(scalar) = key else {
                error("\(path.isEmpty ? "top level" : path): expected a key name, got \(describe(key))", at: key)
                continue
            }
            let name = scalar.string
            // Top-level `x-…` keys are ignored: a place to define anchors for reuse.
            if path.isEmpty, name.hasPrefix("x-") { continue }
            guard allowed.contains(name) else {
                var message = "unknown key \(describe(key)) \(owner.hasPrefix("at ") ? owner : "in \(owner)")"
                if let suggestion = Suggestion.closest(to: name, among: allowed) {
                    message += " (did you mean '\(suggestion)'?)"
                } else {
                    message += " (expected one of \(allowed.joined(separator: ", ")))"
                }
                error(message, at: key)
                continue
            }
            if isNull(value) {
                fields.empty[name] = key
            } else {
                fields.values[name] = (key, value)
            }
        }
        return fields
    }

    /// A required key: reports it missing (at the mapping) or empty (at the key).
    mutating func required(_ fields: Fields, _ key: String, _ expected: String) -> Node? {
        if let value = fields[key] { return value }
        if let keyNode = fields.empty[key] {
            error("\(fields.sub(key)): expected \(expected), got nothing", at: keyNode)
        } else {
            let at = fields.path.isEmpty ? "" : "\(fields.path): "
            error("\(at)missing required key '\(key)' (expected \(expected))", at: fields.node)
        }
        return nil
    }

    /// The `name` of a listener, farm or rule.
    mutating func objectName(_ fields: Fields, kind: String) -> String? {
        guard let node = required(fields, "name", "a \(kind) name"), let text = string(node, fields.sub("name")) else { return nil }
        guard ConfigReader.isObjectName(text) else {
            error("\(fields.sub("name")): expected a \(kind) name of letters, digits, '-', '_' and '.' (at most 64), got \(describe(node))", at: node)
            return nil
        }
        return text
    }

    mutating func string(_ node: Node, _ path: String) -> String? {
        guard case let .scalar(scalar) = node else {
            error("\(path): expected a string, got \(describe(node))", at: node)
            return nil
        }
        return scalar.string
    }

    mutating func list(_ node: Node, _ path: String) -> [Node]? {
        guard case let .sequence(sequence) = node else {
            var message = "\(path): expected a list, got \(describe(node))"
            if case let .scalar(s) = node, !isNull(node) { message += " (write [\(s.string)])" }
            error(message, at: node)
            return nil
        }
        var items: [Node] = []
        for item in sequence {
            guard spendListEntry(at: item) else { return nil }
            items.append(item)
        }
        return items
    }

    /// A list of strings each parsed by `parse` (host names, paths, networks). An empty list
    /// is an error that says what to write instead; every bad entry is reported at its line.
    mutating func parsedList<T>(
        _ node: Node, _ path: String, whenEmpty advice: String, _ parse: (String) throws(ConfigValueError) -> T
    ) -> [T]? {
        guard let items = list(node, path) else { return nil }
        if items.isEmpty {
            error("\(path): the list is empty; \(advice)", at: node)
            return nil
        }
        var values: [T] = []
        var ok = true
        for (j, item) in items.enumerated() {
            let itemPath = "\(path)[\(j)]"
            guard let text = string(item, itemPath) else { ok = false; continue }
            do throws(ConfigValueError) {
                values.append(try parse(text))
            } catch {
                self.error("\(itemPath): \(error.message)", at: item)
                ok = false
            }
        }
        return ok ? values : nil
    }

    private mutating func spendListEntry(at node: Node) -> Bool {
        if listBudget > 0 {
            listBudget -= 1
            return true
        }
        if !budgetReported {
            budgetReported = true
            error("the configuration is too large: more than \(ConfigLoader.maximumListEntries) list entries (each use of an alias counts)", at: node)
        }
        return false
    }

    mutating func int(_ node: Node, _ path: String, _ range: ClosedRange<Int>) -> Int? {
        let expected = "expected an integer \(range.lowerBound)...\(range.upperBound), got \(describe(node))"
        guard case let .scalar(scalar) = node else {
            error("\(path): \(expected)", at: node)
            return nil
        }
        let text = scalar.string
        let digits = text.hasPrefix("+") || text.hasPrefix("-") ? text.dropFirst() : text[...]
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let value = Int(text.hasPrefix("+") ? String(digits) : text), range.contains(value)
        else {
            error("\(path): \(expected)", at: node)
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        if case let .scalar(scalar) = node {
            switch scalar.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        error("\(path): expected true or false, got \(describe(node))", at: node)
        return nil
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ node: Node, _ path: String, _ type: T.Type) -> T? where T.RawValue == String {
        if case let .scalar(scalar) = node, let value = T(rawValue: scalar.string) { return value }
        let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
        var message = "\(path): expected one of \(allowed), got \(describe(node))"
        if case let .scalar(scalar) = node, let s = Suggestion.closest(to: scalar.string, among: T.allCases.map(\.rawValue)) {
            message += " (did you mean '\(s)'?)"
        }
        error(message, at: node)
        return nil
    }

    mutating func duration(_ node: Node, _ path: String, allowZero: Bool = false) -> Duration? {
        guard let text = string(node, path) else { return nil }
        do throws(ConfigValueError) {
            let d = try ConfigValue.duration(text)
            guard d <= .seconds(86_400), allowZero || d > .zero else {
                error("\(path): expected a duration between \(allowZero ? "0s" : "1ms") and 24h, got '\(text)'", at: node)
                return nil
            }
            return d
        } catch {
            self.error("\(path): \(error.message)", at: node)
            return nil
        }
    }

    mutating func size(_ node: Node, _ path: String, _ range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path) else { return nil }
        do throws(ConfigValueError) {
            let v = try ConfigValue.size(text)
            guard v >= UInt64(range.lowerBound), v <= UInt64(range.upperBound) else {
                error("\(path): expected a size between \(range.lowerBound) and \(range.upperBound) bytes, got '\(text)'", at: node)
                return nil
            }
            return Int(v)
        } catch {
            self.error("\(path): \(error.message)", at: node)
            return nil
        }
    }
}

/// "Did you mean …?" by edit distance.
enum Suggestion {
    static func closest(to word: String, among candidates: [String]) -> String? {
        let w = Array(word.lowercased().unicodeScalars)
        guard w.count <= 64 else { return nil }
        var best: (String, Int)?
        for c in candidates {
            let d = distance(w, Array(c.unicodeScalars))
            if best == nil || d < best!.1 { best = (c, d) }
        }
        guard let (candidate, d) = best else { return nil }
        let limit = max(1, min(3, candidate.count / 3))
        return d <= limit ? candidate : nil
    }

    /// Levenshtein distance.
    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
