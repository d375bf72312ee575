import Testing
@testable import OutpostCore

@Suite("TOML parser")
struct TOMLParserTests {
    func parse(_ text: String) throws -> ConfigNode {
        let diagnostics = ConfigDiagnostics(file: "t.toml")
        let node = TOMLDocument.parse(text, file: "t.toml", environment: [:], diagnostics: diagnostics)
        if let error = diagnostics.errors.first { throw error }
        return try #require(node)
    }

    func value(_ node: ConfigNode, _ path: String...) -> ConfigValue? {
        var current = node
        for component in path {
            if let index = Int(component), case .array(let items) = current.value {
                guard items.indices.contains(index) else { return nil }
                current = items[index]
            } else if case .table(let table) = current.value, let child = table[component] {
                current = child
            } else {
                return nil
            }
        }
        return current.value
    }

    func syntaxError(_ text: String) -> ConfigError? {
        let diagnostics = ConfigDiagnostics(file: "t.toml")
        _ = TOMLDocument.parse(text, file: "t.toml", environment: [:], diagnostics: diagnostics)
        return diagnostics.errors.first
    }

    @Test("strings: basic with escapes, literal, multi-line with line-ending backslash")
    func strings() throws {
        let node = try parse(#"""
            a = "tab\there \"q\" \u00e9 \U0001F600"
            b = 'C:\path\no escapes'
            c = """
            line one
            line \
              two"""
            d = '''
            raw \n'''
            "quoted key" = 1
            """#)
        guard case .string(let a) = value(node, "a"), case .string(let b) = value(node, "b"),
            case .string(let c) = value(node, "c"), case .string(let d) = value(node, "d")
        else { Issue.record("not strings"); return }
        #expect(a == "tab\there \"q\" é 😀")
        #expect(b == #"C:\path\no escapes"#)
        #expect(c == "line one\nline two")
        #expect(d == #"raw \n"#)
        if case .int(1) = value(node, "quoted key") {} else { Issue.record("quoted key") }
    }

    @Test("numbers: underscores, hex, octal, binary, floats, exponents, inf and nan")
    func numbers() throws {
        let node = try parse("""
            a = 1_000
            b = 0xFF
            c = 0o17
            d = 0b101
            e = -3.5e2
            f = +inf
            g = 1e3
            h = -0.0
            """)
        let expected: [(String, Double)] = [("a", 1000), ("b", 255), ("c", 15), ("d", 5), ("e", -350), ("g", 1000)]
        for (key, number) in expected {
            switch value(node, key) {
            case .int(let found)?: #expect(Double(found) == number, "\(key)")
            case .double(let found)?: #expect(found == number, "\(key)")
            default: Issue.record("\(key) is not a number")
            }
        }
        if case .double(let inf)? = value(node, "f") { #expect(inf == .infinity) } else { Issue.record("inf") }
    }

    @Test("tables, arrays of tables with sub-tables, dotted keys, inline tables, nested arrays")
    func structure() throws {
        let node = try parse("""
            top.dotted = true   # a comment
            [server]
            ports = [ 8000, 8001,
                      8002, ]   # multi-line with a trailing comma
            point = { x = 1, y.z = 2 }
            [[input.file]]
            name = "a"
              [input.file.detect]
              sigma = 4
            [[input.file]]
            name = "b"
            matrix = [[1, 2], ["x"]]
            """)
        if case .bool(true)? = value(node, "top", "dotted") {} else { Issue.record("dotted key") }
        if case .int(8002)? = value(node, "server", "ports", "2") {} else { Issue.record("array") }
        if case .int(2)? = value(node, "server", "point", "y", "z") {} else { Issue.record("inline table") }
        if case .int(4)? = value(node, "input", "file", "0", "detect", "sigma") {} else { Issue.record("sub-table") }
        if case .string("b")? = value(node, "input", "file", "1", "name") {} else { Issue.record("second element") }
        if case .string("x")? = value(node, "input", "file", "1", "matrix", "1", "0") {} else { Issue.record("nested") }
    }

    @Test("every key knows its line and column")
    func locations() throws {
        let node = try parse("a = 1\n[t]\n  b = 2\n[[arr]]\nc = [10,\n  20]\n")
        guard case .table(let root) = node.value, case .table(let t)? = root["t"]?.value,
            case .array(let arr)? = root["arr"]?.value, case .table(let first) = arr[0].value,
            case .array(let c)? = first["c"]?.value
        else { Issue.record("shape"); return }
        #expect(root["a"]?.location?.line == 1)
        #expect(t["b"]?.location == ConfigLocation(file: "t.toml", line: 3, column: 3))
        #expect(arr[0].location?.line == 4)
        #expect(c[1].location == ConfigLocation(file: "t.toml", line: 6, column: 3))
    }

    @Test("Windows line endings and a byte-order mark are accepted")
    func crlf() throws {
        let node = try parse("\u{FEFF}a = 1\r\n[t]\r\nb = \"x\"\r\n")
        if case .string("x")? = value(node, "t", "b") {} else { Issue.record("crlf") }
    }

    @Test("syntax errors point at the problem", arguments: [
        ("a = 1\na = 2\n", 2, "duplicate key `a`"),
        ("[t]\nx = 1\n[t]\n", 3, "defined more than once"),
        ("a = \"open\n", 1, "newline in a string"),
        ("a = hello\n", 1, "strings need quotes"),
        ("a = 01\n", 1, "not a valid value"),
        ("a = \"\\q\"\n", 1, "invalid escape"),
        ("a = [1, 2\n", 2, "unterminated array"),
        ("a = 1 b = 2\n", 1, "expected the end of the line"),
        ("[a]\nb = 1\n[a.b]\n", 3, "already a value"),
        ("a = {x = 1}\n[a]\n", 2, "defined more than once"),
        ("[[a]]\n[a]\n", 2, "defined more than once"),
        ("a\n", 1, "expected `=`"),
    ])
    func errors(text: String, line: Int, message: String) throws {
        let error = try #require(syntaxError(text))
        #expect(error.code == .syntax)
        #expect(error.location?.line == line, "\(error)")
        #expect(error.message.contains(message), "\(error.message)")
    }
}
