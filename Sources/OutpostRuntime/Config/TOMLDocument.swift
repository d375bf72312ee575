import OutpostCore
import TOMLKit

/// A TOML config file parsed into located `ConfigNode`s, with `${VAR}` expanded in strings.
///
/// TOMLKit (toml++) does the parsing and reports syntax errors with line and column; every other position comes
/// from `TOMLKeyLocator`, so wrong types, unknown keys and bad values are reported at file:line:column too.
enum TOMLDocument {
    /// Parses `source`; syntax errors and undefined variables are reported to `diagnostics`. Nil on a syntax error.
    static func parse(_ source: String, file: String, environment: [String: String],
                      diagnostics: ConfigDiagnostics) -> ConfigNode? {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: source)
        } catch let error as TOMLParseError {
            let location = ConfigLocation(file: file, line: error.source.begin.line, column: error.source.begin.column)
            diagnostics.report(ConfigError(.syntax, "TOML syntax: \(error.description)", path: nil, location: location))
            return nil
        } catch {
            diagnostics.report(ConfigError(.syntax, "TOML syntax: \(error)", path: nil, location: nil))
            return nil
        }
        var converter = Converter(file: file, locator: TOMLKeyLocator(source: source), environment: environment,
                                  diagnostics: diagnostics)
        return converter.node(table, path: ConfigPath())
    }

    private struct Converter {
        let file: String
        let locator: TOMLKeyLocator
        let environment: [String: String]
        let diagnostics: ConfigDiagnostics

        mutating func node(_ value: any TOMLValueConvertible, path: ConfigPath) -> ConfigNode {
            let location = locator.location(of: path).map { ConfigLocation(file: file, line: $0.line, column: $0.column) }
            let converted: ConfigValue
            switch value.type {
            case .table:
                let table = value.table ?? TOMLTable()
                converted = .table(ConfigTable(entries: table.map { key, child in
                    (key: key, node: node(child, path: path.appending(key)))
                }))
            case .array:
                let array = value.array ?? TOMLArray()
                converted = .array(array.enumerated().map { index, child in node(child, path: path.appending(index: index)) })
            case .string:
                converted = .string(expand(value.string ?? "", path: path, location: location))
            case .int: converted = .int(value.int ?? 0)
            case .double: converted = .double(value.double ?? 0)
            case .bool: converted = .bool(value.bool ?? false)
            case .date, .time, .dateTime: converted = .dateTime(value.debugDescription)
            }
            return ConfigNode(value: converted, path: path, location: location)
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
                let expression = rest[start.upperBound..<end]
                let parts = expression.split(separator: ":-", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(parts[0])
                if let value = environment[name], !(parts.count == 2 && value.isEmpty) {
                    result += value
                } else if parts.count == 2 {
                    result += parts[1]
                } else {
                    diagnostics.report(ConfigError(
                        .undefinedVariable,
                        "environment variable `\(name)` is not set; set it, or write ${\(name):-default}",
                        path: path, location: location))
                }
                rest = rest[rest.index(after: end)...]
            }
            return result + rest
        }
    }
}
