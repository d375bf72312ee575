import OutpostCore

/// Finds where each key of a TOML document is written, which TOMLKit does not tell.
///
/// A line scanner that follows table headers (`[a.b]`, `[[a.b]]` with their running index), `key = value` lines
/// (bare, quoted and dotted keys), and skips the insides of multi-line strings, arrays and inline tables. Keys
/// inside inline tables or multi-line arrays are located at their enclosing key, which is close enough for an
/// operator to find them.
struct TOMLKeyLocator {
    private var locations: [ConfigPath: (line: Int, column: Int)] = [:]
    private var arrayCounts: [ConfigPath: Int] = [:]

    init(source: String) {
        scan(source)
    }

    /// The location of `path`, or of its nearest located ancestor.
    func location(of path: ConfigPath) -> (line: Int, column: Int)? {
        var current: ConfigPath? = path
        while let candidate = current {
            if let found = locations[candidate] { return found }
            current = candidate.parent
        }
        return nil
    }

    private mutating func scan(_ source: String) {
        var table = ConfigPath()
        var scanner = ValueScanner()
        for (offset, rawLine) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = Array(rawLine.utf8)
            let lineNumber = offset + 1
            if scanner.isInsideValue {
                scanner.scan(line, from: 0)
                continue
            }
            guard let start = line.firstIndex(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }),
                line[start] != UInt8(ascii: "#"), line[start] != UInt8(ascii: "\r")
            else { continue }
            if line[start] == UInt8(ascii: "[") {
                table = header(line, at: start, lineNumber: lineNumber) ?? table
                continue
            }
            var position = start
            guard let keys = Self.parseKey(line, &position), position < line.count, line[position] == UInt8(ascii: "=")
            else { continue }
            locations[ConfigPath(table.components + keys.map { .key($0) })] = (lineNumber, start + 1)
            scanner.scan(line, from: position + 1)
        }
    }

    private mutating func header(_ line: [UInt8], at start: Int, lineNumber: Int) -> ConfigPath? {
        let isArray = start + 1 < line.count && line[start + 1] == UInt8(ascii: "[")
        var position = start + (isArray ? 2 : 1)
        guard let keys = Self.parseKey(line, &position), !keys.isEmpty else { return nil }
        var path = resolve(Array(keys.dropLast()))
        path = path.appending(keys[keys.count - 1])
        if isArray {
            let index = arrayCounts[path, default: 0]
            arrayCounts[path] = index + 1
            if locations[path] == nil { locations[path] = (lineNumber, start + 1) }
            path = path.appending(index: index)
        }
        locations[path] = (lineNumber, start + 1)
        return path
    }

    /// Dotted header keys to a path, stepping into the latest element of each array of tables on the way.
    private func resolve(_ keys: [String]) -> ConfigPath {
        var path = ConfigPath()
        for key in keys {
            path = path.appending(key)
            if let count = arrayCounts[path] { path = path.appending(index: count - 1) }
        }
        return path
    }

    /// Parses `a.b."c d"` from `position`, leaving it after the key (and any spaces).
    static func parseKey(_ line: [UInt8], _ position: inout Int) -> [String]? {
        var keys: [String] = []
        while true {
            skipSpaces(line, &position)
            guard position < line.count else { return nil }
            let quote = line[position]
            if quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") {
                let start = position + 1
                guard let end = line[start...].firstIndex(of: quote) else { return nil }
                keys.append(String(decoding: line[start..<end], as: UTF8.self))
                position = end + 1
            } else {
                let start = position
                while position < line.count, isBareKeyByte(line[position]) { position += 1 }
                guard position > start else { return nil }
                keys.append(String(decoding: line[start..<position], as: UTF8.self))
            }
            skipSpaces(line, &position)
            guard position < line.count, line[position] == UInt8(ascii: ".") else { return keys }
            position += 1
        }
    }

    private static func skipSpaces(_ line: [UInt8], _ position: inout Int) {
        while position < line.count, line[position] == UInt8(ascii: " ") || line[position] == UInt8(ascii: "\t") {
            position += 1
        }
    }

    private static func isBareKeyByte(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }
}

/// Follows a value across lines: open brackets and multi-line strings.
private struct ValueScanner {
    private var depth = 0
    private var multilineQuote: UInt8?

    var isInsideValue: Bool { depth > 0 || multilineQuote != nil }

    mutating func scan(_ line: [UInt8], from start: Int) {
        var index = start
        while index < line.count {
            let byte = line[index]
            if let quote = multilineQuote {
                if byte == quote, index + 2 < line.count, line[index + 1] == quote, line[index + 2] == quote {
                    multilineQuote = nil
                    index += 3
                    continue
                }
                if quote == UInt8(ascii: "\"") && byte == UInt8(ascii: "\\") { index += 1 }
                index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "#"):
                return
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                if index + 2 < line.count, line[index + 1] == byte, line[index + 2] == byte {
                    multilineQuote = byte
                    index += 3
                    continue
                }
                index += 1
                while index < line.count, line[index] != byte {
                    if byte == UInt8(ascii: "\"") && line[index] == UInt8(ascii: "\\") { index += 1 }
                    index += 1
                }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(0, depth - 1)
            default:
                break
            }
            index += 1
        }
    }
}
