/// Reads one config table into typed values, reporting every problem to shared diagnostics instead of stopping.
///
/// Each `+Configuration.swift` reads its keys through a reader and calls `finish()`, which reports every key it
/// did not read as unknown: a typo must never silently disable a sensor. A wrong type is reported as a wrong type
/// (with what was expected and what was found), never as a missing key.
package final class ConfigReader {
    package let node: ConfigNode
    package let diagnostics: ConfigDiagnostics
    private let table: ConfigTable
    private var consumed: Set<String> = []

    package init(node: ConfigNode, diagnostics: ConfigDiagnostics) {
        self.node = node
        self.diagnostics = diagnostics
        if case .table(let table) = node.value {
            self.table = table
        } else {
            self.table = ConfigTable(entries: [])
            diagnostics.report(.wrongType, "expected a table, found \(node.value.typeName)", at: node)
        }
    }

    package var path: ConfigPath { node.path }
    package var keys: [String] { table.entries.map(\.key) }

    package func contains(_ key: String) -> Bool { table[key] != nil }

    /// The raw node under `key`, marked as read.
    package func node(_ key: String) -> ConfigNode? {
        consumed.insert(key)
        diagnostics.asked(path.appending(key))
        return table[key]
    }

    /// Reports a problem with the value under `key` (or with this table when the key is absent).
    package func invalid(_ key: String, _ message: String) {
        if let child = table[key] {
            diagnostics.report(.invalidValue, message, at: child)
        } else {
            diagnostics.report(ConfigError(.invalidValue, message, path: path.appending(key), location: node.location))
        }
    }

    package func missing(_ key: String, _ hint: String) {
        diagnostics.report(
            ConfigError(.missingKey, "required key `\(key)` is missing; \(hint)", path: path, location: node.location)
        )
    }

    /// Reports every key that no one read. Call once, after reading everything this table may hold.
    package func finish(knownElsewhere: Set<String> = []) {
        for (key, child) in table.entries where !consumed.contains(key) && !knownElsewhere.contains(key) {
            let suggestion = ConfigReader.closest(to: key, among: consumed.union(knownElsewhere))
            let hint = suggestion.map { "; did you mean `\($0)`?" } ?? "; see config/outpost.toml for the keys it takes"
            diagnostics.report(.unknownKey, "unknown key `\(key.escapingInvisibles)`\(hint)", at: child)
        }
    }

    // MARK: typed getters

    package func string(_ key: String) -> String? {
        guard let child = node(key) else { return nil }
        guard case .string(let value) = child.value else { return wrongType(child, expected: "a string") }
        return value
    }

    package func string(_ key: String, default defaultValue: String) -> String {
        string(key) ?? defaultValue
    }

    package func requiredString(_ key: String, hint: String) -> String? {
        if !contains(key) { missing(key, hint) }
        return string(key)
    }

    package func bool(_ key: String, default defaultValue: Bool) -> Bool {
        guard let child = node(key) else { return defaultValue }
        guard case .bool(let value) = child.value else { return wrongType(child, expected: "true or false") ?? defaultValue }
        return value
    }

    /// A finite number; integers are accepted where a fractional value is expected (`interval = 30`).
    /// `inf` and `nan` are valid TOML but never a valid setting: they are reported, not returned.
    package func double(_ key: String) -> Double? {
        guard let child = node(key) else { return nil }
        switch child.value {
        case .double(let value) where value.isFinite: return value
        case .double(let value):
            diagnostics.report(.invalidValue, "`\(value)` is not a finite number; write a number such as 1.5",
                               at: child)
            return nil
        case .int(let value): return Double(value)
        default: return wrongType(child, expected: "a number")
        }
    }

    /// A finite number within `range`; a value outside it is reported and the default used.
    package func double(_ key: String, in range: ClosedRange<Double>, default defaultValue: Double) -> Double {
        guard let value = double(key) else { return defaultValue }
        guard range.contains(value) else {
            invalid(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
            return defaultValue
        }
        return value
    }

    package func double(_ key: String, default defaultValue: Double) -> Double {
        double(key) ?? defaultValue
    }

    package func int(_ key: String) -> Int? {
        guard let child = node(key) else { return nil }
        switch child.value {
        case .int(let value): return value
        case .double(let value) where value.rounded() == value && abs(value) < 1e15: return Int(value)
        default: return wrongType(child, expected: "a whole number")
        }
    }

    package func int(_ key: String, default defaultValue: Int) -> Int {
        int(key) ?? defaultValue
    }

    /// A whole number within `range`; a value outside it is reported and the default used, so a count, port or
    /// level from the file never meets a narrower integer type or an allocation unchecked.
    package func int(_ key: String, in range: ClosedRange<Int>, default defaultValue: Int) -> Int {
        guard let value = int(key) else { return defaultValue }
        guard range.contains(value) else {
            invalid(key, "must be \(range.lowerBound) to \(range.upperBound), got \(value)")
            return defaultValue
        }
        return value
    }

    /// A duration: `"5s"`, `"1m30s"`, `"250ms"`, or a number of seconds.
    package func duration(_ key: String) -> Duration? {
        guard let child = node(key) else { return nil }
        switch child.value {
        case .int(let seconds): return boundedDuration(seconds: Double(seconds), written: "\(seconds)", at: child)
        case .double(let seconds): return boundedDuration(seconds: seconds, written: "\(seconds)", at: child)
        case .string(let text):
            if let value = ConfigQuantities.duration(text) { return value }
            if ConfigQuantities.durationNanos(text) != nil { return outOfRange(text, at: child) }
            diagnostics.report(
                .invalidValue, "`\(text)` is not a duration; write it like \"250ms\", \"5s\", \"1m30s\" or \"2h\"",
                at: child)
            return nil
        default: return wrongType(child, expected: "a duration such as \"5s\"")
        }
    }

    package func duration(_ key: String, default defaultValue: Duration) -> Duration {
        duration(key) ?? defaultValue
    }

    /// Seconds as a duration, checked before any conversion: `inf`, `nan` and values beyond
    /// `ConfigQuantities.maximumDuration` are errors, never a trap in the Int64 nanosecond arithmetic.
    private func boundedDuration(seconds: Double, written: String, at child: ConfigNode) -> Duration? {
        let limit = ConfigQuantities.maximumDurationNanos / 1e9
        guard seconds.isFinite, seconds.magnitude <= limit else { return outOfRange(written, at: child) }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    private func outOfRange(_ written: String, at child: ConfigNode) -> Duration? {
        let limit = ConfigQuantities.format(.nanoseconds(Int64(ConfigQuantities.maximumDurationNanos)))
        diagnostics.report(
            .invalidValue, "`\(written)` is not a usable duration; it must be finite and at most \(limit)", at: child)
        return nil
    }

    /// A positive duration; zero or negative values are reported.
    package func positiveDuration(_ key: String, default defaultValue: Duration) -> Duration {
        let value = duration(key) ?? defaultValue
        guard value > .zero else {
            invalid(key, "must be positive, got \(ConfigQuantities.format(value))")
            return defaultValue
        }
        return value
    }

    /// A byte size: `"64MiB"`, `"512KB"`, or a number of bytes.
    package func size(_ key: String, default defaultValue: Int64) -> Int64 {
        guard let child = node(key) else { return defaultValue }
        switch child.value {
        case .int(let bytes) where bytes >= 0: return Int64(bytes)
        case .string(let text):
            if let value = ConfigQuantities.size(text) { return value }
            diagnostics.report(.invalidValue, "`\(text)` is not a size; write it like \"64MiB\", \"512KB\" or 4096", at: child)
            return defaultValue
        default: return wrongType(child, expected: "a size such as \"64MiB\"") ?? defaultValue
        }
    }

    /// A byte size within `range`; a size outside it is reported and the default used.
    package func size(_ key: String, in range: ClosedRange<Int64>, default defaultValue: Int64) -> Int64 {
        let value = size(key, default: defaultValue)
        guard range.contains(value) else {
            let lower = ConfigQuantities.format(bytes: range.lowerBound)
            let upper = ConfigQuantities.format(bytes: range.upperBound)
            invalid(key, "must be \(lower) to \(upper), got \(ConfigQuantities.format(bytes: value))")
            return defaultValue
        }
        return value
    }

    /// One of a fixed set of words; anything else is reported with the allowed words.
    package func choice(_ key: String, _ allowed: [String], default defaultValue: String) -> String {
        guard let value = string(key) else { return defaultValue }
        guard allowed.contains(value) else {
            let list = allowed.map { "\"\($0)\"" }.joined(separator: ", ")
            invalid(key, "`\(value)` is not one of \(list)")
            return defaultValue
        }
        return value
    }

    package func strings(_ key: String) -> [String]? {
        guard let child = node(key) else { return nil }
        if case .string(let single) = child.value { return [single] }
        guard case .array(let items) = child.value else { return wrongType(child, expected: "an array of strings") }
        var result: [String] = []
        for item in items {
            guard case .string(let text) = item.value else {
                diagnostics.report(.wrongType, "expected a string, found \(item.value.typeName)", at: item)
                continue
            }
            result.append(text)
        }
        return result
    }

    /// A string-to-string table such as `attributes = { room = "north" }`.
    package func stringMap(_ key: String) -> [(key: String, value: String)] {
        guard let child = node(key) else { return [] }
        guard case .table(let entries) = child.value else { return wrongType(child, expected: "a table") ?? [] }
        var result: [(key: String, value: String)] = []
        for (key, childNode) in entries.entries {
            switch childNode.value {
            case .string(let text): result.append((key, text))
            case .int(let number): result.append((key, String(number)))
            case .double(let number): result.append((key, String(number)))
            case .bool(let flag): result.append((key, String(flag)))
            default: diagnostics.report(.wrongType, "expected a string, found \(childNode.value.typeName)", at: childNode)
            }
        }
        return result
    }

    /// A sub-table as its own reader, or nil when absent.
    package func table(_ key: String) -> ConfigReader? {
        guard let child = node(key) else { return nil }
        guard case .table = child.value else { return wrongType(child, expected: "a table") }
        return ConfigReader(node: child, diagnostics: diagnostics)
    }

    /// `[[key]]` entries, or a single `[key]` table treated as one entry.
    package func tables(_ key: String) -> [ConfigReader] {
        guard let child = node(key) else { return [] }
        switch child.value {
        case .table: return [ConfigReader(node: child, diagnostics: diagnostics)]
        case .array(let items): return items.map { ConfigReader(node: $0, diagnostics: diagnostics) }
        default: return wrongType(child, expected: "a table or an array of tables") ?? []
        }
    }

    private func wrongType<T>(_ child: ConfigNode, expected: String) -> T? {
        diagnostics.report(.wrongType, "expected \(expected), found \(child.value.typeName)", at: child)
        return nil
    }

    /// The known key nearest to a typo, when it is close enough to be a likely slip.
    static func closest(to key: String, among known: Set<String>) -> String? {
        let scored = known.map { ($0, editDistance(key, $0)) }.filter { $0.1 <= max(2, key.count / 3) }
        return scored.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }?.0
    }

    static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs), b = Array(rhs)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
