
/// A TOML config file as located `ConfigNode`s, with `${VAR}` expanded in strings.
package enum TOMLDocument {
    /// Parses `source`; syntax errors and undefined variables are reported to `diagnostics`. Nil on a syntax error.
    package static func parse(_ source: String, file: String, environment: [String: String],
                      diagnostics: ConfigDiagnostics) -> ConfigNode? {
        let root: TOMLTableBuilder
        do {
            root = try TOMLParser.parse(source)
        } catch {
            let location = ConfigLocation(file: file, line: error.line, column: error.column)
            diagnostics.report(ConfigError(.syntax, "TOML syntax: \(error.message)", path: nil, location: location))
            return nil
        }
        let converter = Converter(file: file, environment: environment, diagnostics: diagnostics)
        return converter.node(root, path: ConfigPath(), line: 1, column: 1)
    }

    private struct Converter {
        let file: String
        let environment: [String: String]
        let diagnostics: ConfigDiagnostics

        func node(_ table: TOMLTableBuilder, path: ConfigPath, line: Int, column: Int) -> ConfigNode {
            let entries = table.entries.map { entry -> (key: String, node: ConfigNode) in
                let childPath = path.appending(entry.key)
                switch entry.entry {
                case .value(let value):
                    return (entry.key, node(value, path: childPath, line: entry.line, column: entry.column))
                case .table(let child):
                    return (entry.key, node(child, path: childPath, line: entry.line, column: entry.column))
                case .arrayOfTables(let tables):
                    let items = tables.enumerated().map { index, child in
                        node(child, path: childPath.appending(index: index), line: child.line, column: child.column)
                    }
                    return (entry.key, ConfigNode(value: .array(items), path: childPath,
                                                  location: location(entry.line, entry.column)))
                }
            }
            return ConfigNode(value: .table(ConfigTable(entries: entries)), path: path, location: location(line, column))
        }

        /// `line`/`column` say where the key is; array items carry their own position.
        func node(_ value: TOMLValue, path: ConfigPath, line: Int, column: Int) -> ConfigNode {
            let here = location(line, column)
            let converted: ConfigValue
            switch value.kind {
            case .string(let text): converted = .string(expand(text, path: path, location: here))
            case .int(let number): converted = .int(number)
            case .double(let number): converted = .double(number)
            case .bool(let flag): converted = .bool(flag)
            case .dateTime(let text): converted = .dateTime(text)
            case .table(let table): return node(table, path: path, line: line, column: column)
            case .array(let items):
                converted = .array(items.enumerated().map { index, item in
                    node(item, path: path.appending(index: index), line: item.line, column: item.column)
                })
            }
            return ConfigNode(value: converted, path: path, location: here)
        }

        func location(_ line: Int, _ column: Int) -> ConfigLocation {
            ConfigLocation(file: file, line: line, column: column)
        }

        /// `${NAME}` becomes the variable's value; `${NAME:-fallback}` uses the fallback when it is unset or empty;
        /// `$${` is a literal `${`. An unset variable without a fallback is an error naming it.
        func expand(_ text: String, path: ConfigPath, location: ConfigLocation?) -> String {
            guard text.contains("${") else { return text }
            var result = ""
            var rest = Substring(text)
            while let start = rest.firstRange(of: "${") {
                if start.lowerBound > rest.startIndex, rest[rest.index(before: start.lowerBound)] == "$" {
                    result += rest[..<rest.index(before: start.lowerBound)] + "${"
                    rest = rest[start.upperBound...]
                    continue
                }
                result += rest[..<start.lowerBound]
                guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                    diagnostics.report(ConfigError(.invalidValue, "unterminated `${` in \"\(text)\"", path: path,
                                                   location: location))
                    return result + rest
                }
                let parts = rest[start.upperBound..<end].split(separator: ":-", maxSplits: 1,
                                                               omittingEmptySubsequences: false)
                let name = String(parts[0])
                if let value = environment[name], !(parts.count == 2 && value.isEmpty) {
                    result += value
                } else if parts.count == 2 {
                    result += parts[1]
                } else {
                    diagnostics.report(ConfigError(
                        .undefinedVariable, "environment variable `\(name)` is not set; set it, or write ${\(name):-default}",
                        path: path, location: location))
                }
                rest = rest[rest.index(after: end)...]
            }
            return result + rest
        }
    }
}
