import Publishing
import XCTest

/// Any input yields diagnostics, never a crash or a hang.
final class RobustnessTests: XCTestCase {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Loads, and checks the result is coherent: a config exactly when there is no error,
    /// and every diagnostic names the file and a 1-based position.
    func loadChecked(_ yaml: String, _ context: @autoclosure () -> String = "") {
        let result = ConfigLoader.load(yaml: yaml, file: "fuzz.yaml")
        XCTAssertEqual(result.config == nil, result.hasErrors, context())
        for d in result.diagnostics {
            XCTAssertEqual(d.position.file, "fuzz.yaml")
            XCTAssertGreaterThanOrEqual(d.position.line, 1)
            XCTAssertGreaterThanOrEqual(d.position.column, 1)
            XCTAssertFalse(d.message.isEmpty)
        }
        if let config = result.config {
            // Whatever loads must also build a rule table and answer a request.
            let table = RuleTable(config: config)
            _ = table.decide(listener: 0, host: Array("webext.contoso.com".utf8), path: Array("/".utf8), client: .init("192.0.2.1")!)
        }
    }

    func testSeededMutationsOfTheExample() {
        var rng = SplitMix64(state: 0x5EED_ED6E)
        let fragments = [
            "", " ", "\n", "\t", ":", "- ", "[", "]", "{", "}", ",", "\"", "'", "*", "&a ", "*a", "!!str ", "? ", "#",
            "|", ">", "%", "@", "`", "\u{0}", "\u{FEFF}", "é", "99999999999999999999999", "-1", "0", "1.5", "null", "~",
            "true", "0x10", "1e999", "::", "[::]", "0.0.0.0/0", "*.contoso.com", "/*", "500MiB", "5s", "\n  - ", "\n    ",
        ]
        let base = Array(exampleYAML.unicodeScalars)
        var loaded = 0
        for round in 0..<400 {
            var text = base
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let position = Int.random(in: 0...text.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0:  // insert a fragment
                    text.insert(contentsOf: fragments.randomElement(using: &rng)!.unicodeScalars, at: position)
                case 1:  // delete a run
                    let end = min(text.count, position + Int.random(in: 1...12, using: &rng))
                    text.removeSubrange(position..<end)
                case 2:  // replace a scalar with a random ASCII one
                    if position < text.count { text[position] = Unicode.Scalar(UInt8.random(in: 0...127, using: &rng)) }
                default:  // duplicate a line-sized run
                    let end = min(text.count, position + Int.random(in: 1...80, using: &rng))
                    text.insert(contentsOf: text[position..<end], at: position)
                }
            }
            var yaml = ""
            yaml.unicodeScalars.append(contentsOf: text)
            let result = ConfigLoader.load(yaml: yaml, file: "fuzz.yaml")
            if result.config != nil { loaded += 1 }
            loadChecked(yaml, "round \(round)")
        }
        XCTAssertGreaterThan(loaded, 0, "some mutations (e.g. inside comments) still load")
    }

    func testRandomBytes() {
        var rng = SplitMix64(state: 42)
        for _ in 0..<200 {
            let count = Int.random(in: 0...300, using: &rng)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            loadChecked(String(decoding: bytes, as: UTF8.self))
        }
    }

    func testDeepNesting() {
        loadChecked(String(repeating: "[", count: 100_000))
        loadChecked(String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000))
        loadChecked(String(repeating: "{a: ", count: 5_000) + "1" + String(repeating: "}", count: 5_000))
        loadChecked(String(repeating: "- ", count: 5_000) + "x")
        loadChecked("rules: " + String(repeating: "[", count: 900) + String(repeating: "]", count: 900))
        let result = load(String(repeating: "[", count: 2_000) + String(repeating: "]", count: 2_000))
        XCTAssertEqual(result.diagnostics.first?.message, "invalid YAML: nested too deeply")
    }

    func testHugeNumbersAndStrings() {
        loadChecked(minimalYAML + "\nworkers: 123456789012345678901234567890\n")
        loadChecked(minimalYAML + "\naffinity: { seed: -99999999999999999999 }\n")
        loadChecked(minimalYAML + "\nhttp: { max_header_bytes: 18446744073709551615GiB }\n")
        loadChecked(minimalYAML + "\ntimeouts: { shutdown: 9999999999999999999h }\n")
        loadChecked(minimalYAML + "\ninstance: " + String(repeating: "x", count: 100_000) + "\n")
        let big = load(minimalYAML + "\nworkers: 123456789012345678901234567890\n")
        XCTAssertEqual(big.errors.map(\.message), ["workers: expected an integer 1...64, got '123456789012345678901234567890'"])
    }

    func testAliasExpansionIsBounded() {
        // Nine levels of nine-way aliases as values: ~387 million entries if expanded naively.
        var yaml = "x0: &a0 [a.contoso.com, a.contoso.com, a.contoso.com, a.contoso.com, a.contoso.com, a.contoso.com, a.contoso.com, a.contoso.com, a.contoso.com]\n"
        for level in 1...9 {
            yaml += "x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        yaml += """
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules:
          - { name: a, public_names: *a9, farm: pool01 }
          - { name: b, public_names: *a9, farm: pool01 }
        """
        let start = ContinuousClock.now
        let result = load(yaml)
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
        XCTAssertNil(result.config)
        XCTAssertLessThanOrEqual(result.diagnostics.count, 201)

        // Flattened one level less: many valid names through aliases are budgeted, not expanded without end.
        var names = "n: &n [" + (0..<100).map { "h\($0).contoso.com" }.joined(separator: ", ") + "]\n"
        names += "m: &m [" + Array(repeating: "*n", count: 100).joined(separator: ", ") + "]\n"
        names += minimalYAML
        loadChecked(names)
    }

    func testListEntriesAreBudgeted() {
        let rules = (0..<(ConfigLoader.maximumListEntries + 5)).map { "  - \($0)" }.joined(separator: "\n")
        let result = load("rules:\n" + rules)
        XCTAssertNil(result.config)
        XCTAssertTrue(result.errors.contains { $0.message == "the configuration is too large: more than 10000 list entries (each use of an alias counts)" })
        XCTAssertLessThanOrEqual(result.diagnostics.count, 201)

        let many = load("rules:\n" + (0..<300).map { "  - \($0)" }.joined(separator: "\n"))
        XCTAssertEqual(many.diagnostics.count, 201)
        XCTAssertEqual(many.diagnostics.last?.message, "101 more diagnostics not shown")
        XCTAssertEqual(many.diagnostics.last?.severity, .error)
    }

    func testAliasesInKeysAreRefused() {
        let yaml = """
        a: &a [x, x, x, x, x, x, x, x, x]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
        d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
        e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
        f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
        g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
        """
        for key in ["? *g\n: 1\n", "*g : 1\n", "[*g]: 1\n", "{ k: *g }: 1\n", "x: { *g : 1 }\n"] {
            let start = ContinuousClock.now
            let result = load(yaml + "\n" + key)
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(5), key)
            XCTAssertNil(result.config, key)
        }
    }

    func testManyRulesStayFast() {
        var yaml = """
        listeners: [{ name: https, address: 0.0.0.0, port: 443 }]
        farms: [{ name: pool01, members: ["10.0.0.11:4443"] }]
        rules:

        """
        for i in 0..<1_000 {
            yaml += "  - { name: r\(i), public_names: [h\(i).contoso.com, \"*.d\(i).contoso.com\"], paths: [\"/a/*\", /b], farm: pool01 }\n"
        }
        let start = ContinuousClock.now
        let config = try? loadValid(yaml)
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(10))
        XCTAssertEqual(config?.rules.count, 1_000)
    }
}
