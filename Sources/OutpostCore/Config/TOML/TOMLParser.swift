
/// A TOML 1.0 syntax error at a position.
struct TOMLSyntaxError: Error {
    let message: String
    let line: Int
    let column: Int
}

/// A TOML 1.0 parser that records where every key and value is written.
///
/// Ours rather than a library: the TOML packages available either pull full Foundation into the binary (ICU,
/// +45 MB static) or report positions only for syntax errors, and operators need file:line:column for every
/// error (wrong types, unknown keys, bad values), not just for syntax.
package struct TOMLParser {
    /// Limits that keep a hostile or mangled file from exhausting the stack or memory: values nest by recursion,
    /// so arrays and inline tables may nest `maximumDepth` deep, a key may have `maximumKeyParts` dotted parts, a
    /// line may be `maximumLineLength` bytes and the file `maximumFileSize` bytes. Real configs stay far below.
    static let maximumDepth = 32
    static let maximumKeyParts = 32
    static let maximumLineLength = 16 * 1024
    package static let maximumFileSize = 4 * 1024 * 1024

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0
    private var line = 1
    private var lineStart = 0
    private let root = TOMLTableBuilder(kind: .implicit, line: 1, column: 1)
    private var current: TOMLTableBuilder

    init(_ source: String) {
        bytes = Array(source.utf8)
        current = root
    }

    /// The whole document as a table.
    static func parse(_ source: String) throws(TOMLSyntaxError) -> TOMLTableBuilder {
        var parser = TOMLParser(source)
        try parser.checkSize()
        try parser.parseDocument()
        return parser.root
    }

    // MARK: document structure

    /// Refuses a file or a line beyond the limits before parsing, naming where the first long line is.
    private func checkSize() throws(TOMLSyntaxError) {
        guard bytes.count <= Self.maximumFileSize else {
            throw TOMLSyntaxError(message: "the file is \(bytes.count) bytes; a config may be at most "
                                  + "\(Self.maximumFileSize) bytes", line: 1, column: 1)
        }
        var line = 1, start = 0
        for (offset, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: "\n") {
                line += 1
                start = offset + 1
            } else if offset - start >= Self.maximumLineLength {
                throw TOMLSyntaxError(message: "line longer than \(Self.maximumLineLength) bytes; split it "
                                      + "(arrays and multi-line strings may span lines)", line: line,
                                      column: Self.maximumLineLength + 1)
            }
        }
    }

    private mutating func parseDocument() throws(TOMLSyntaxError) {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        while true {
            skipSpaces()
            guard let byte = peek() else { return }
            switch byte {
            case UInt8(ascii: "#"): try skipComment()
            case UInt8(ascii: "\n"): consumeNewline()
            case UInt8(ascii: "\r"): try expectNewline()
            case UInt8(ascii: "["):
                try parseHeader()
                try finishLine()
            default:
                try parseKeyValue(into: current)
                try finishLine()
            }
        }
    }

    /// After an expression only spaces, a comment and the end of the line may follow.
    private mutating func finishLine() throws(TOMLSyntaxError) {
        skipSpaces()
        if peek() == UInt8(ascii: "#") { try skipComment() }
        guard let byte = peek() else { return }
        guard byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") else {
            throw error("expected the end of the line after a value, found \(describe(byte))")
        }
        try expectNewline()
    }

    private mutating func parseHeader() throws(TOMLSyntaxError) {
        let (line, column) = position
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        skipSpaces()
        let keys = try parseKey()
        guard keys.count <= Self.maximumKeyParts else {
            throw TOMLSyntaxError(message: "a table header may have at most \(Self.maximumKeyParts) dotted parts",
                                  line: line, column: column)
        }
        skipSpaces()
        guard peek() == UInt8(ascii: "]") else { throw error("expected `]` to close the table header") }
        index += 1
        if isArray {
            guard peek() == UInt8(ascii: "]") else { throw error("expected `]]` to close the array-of-tables header") }
            index += 1
        }
        var table = root
        for key in keys.dropLast() {
            table = try table.descend(key, line: line, column: column)
        }
        let last = keys[keys.count - 1]
        if isArray {
            current = try table.appendArrayTable(last, line: line, column: column)
        } else {
            current = try table.defineTable(last, line: line, column: column)
        }
    }

    private mutating func parseKeyValue(into table: TOMLTableBuilder) throws(TOMLSyntaxError) {
        let (line, column) = position
        let keys = try parseKey()
        guard keys.count <= Self.maximumKeyParts else {
            throw TOMLSyntaxError(message: "a key may have at most \(Self.maximumKeyParts) dotted parts",
                                  line: line, column: column)
        }
        skipSpaces()
        guard peek() == UInt8(ascii: "=") else {
            throw error("expected `=` after the key `\(keys.joined(separator: "."))`")
        }
        index += 1
        skipSpaces()
        var target = table
        for key in keys.dropLast() {
            target = try target.dottedTable(key, line: line, column: column)
        }
        let value = try parseValue()
        try target.set(keys[keys.count - 1], value, line: line, column: column)
    }

    // MARK: keys

    private mutating func parseKey() throws(TOMLSyntaxError) -> [String] {
        var keys: [String] = []
        while true {
            skipSpaces()
            guard let byte = peek() else { throw error("expected a key, found the end of the file") }
            switch byte {
            case UInt8(ascii: "\""): keys.append(try parseBasicString())
            case UInt8(ascii: "'"): keys.append(try parseLiteralString())
            default:
                let start = index
                while let next = peek(), Self.isBareKey(next) { index += 1 }
                guard index > start else { throw error("expected a key, found \(describe(byte))") }
                keys.append(String(decoding: bytes[start..<index], as: UTF8.self))
            }
            skipSpaces()
            guard peek() == UInt8(ascii: ".") else { return keys }
            index += 1
        }
    }

    private static func isBareKey(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    // MARK: values

    private mutating func parseValue() throws(TOMLSyntaxError) -> TOMLValue {
        let (line, column) = position
        guard let byte = peek() else { throw error("expected a value, found the end of the file") }
        let kind: TOMLValue.Kind
        switch byte {
        case UInt8(ascii: "\""):
            kind = .string(startsWith("\"\"\"") ? try parseMultilineBasicString() : try parseBasicString())
        case UInt8(ascii: "'"):
            kind = .string(startsWith("'''") ? try parseMultilineLiteralString() : try parseLiteralString())
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            kind = .bool(try parseBool())
        case UInt8(ascii: "["):
            try enterNesting()
            kind = .array(try parseArray())
            depth -= 1
        case UInt8(ascii: "{"):
            try enterNesting()
            kind = .table(try parseInlineTable(line: line, column: column))
            depth -= 1
        default:
            kind = try parseNumberOrDate()
        }
        return TOMLValue(kind: kind, line: line, column: column)
    }

    /// One level deeper into an array or inline table, refused beyond `maximumDepth` (each level is a recursion).
    private mutating func enterNesting() throws(TOMLSyntaxError) {
        guard depth < Self.maximumDepth else {
            throw error("arrays and inline tables nest more than \(Self.maximumDepth) levels deep; flatten the value")
        }
        depth += 1
    }

    private mutating func parseBool() throws(TOMLSyntaxError) -> Bool {
        if startsWith("true") {
            index += 4
            return true
        }
        if startsWith("false") {
            index += 5
            return false
        }
        throw error("expected a value (a string needs quotes)")
    }

    private mutating func parseArray() throws(TOMLSyntaxError) -> [TOMLValue] {
        index += 1
        var items: [TOMLValue] = []
        while true {
            try skipSpacesNewlinesAndComments()
            guard let byte = peek() else { throw error("unterminated array: expected `]`") }
            if byte == UInt8(ascii: "]") {
                index += 1
                return items
            }
            items.append(try parseValue())
            try skipSpacesNewlinesAndComments()
            guard let separator = peek() else { throw error("unterminated array: expected `]`") }
            if separator == UInt8(ascii: ",") {
                index += 1
            } else if separator != UInt8(ascii: "]") {
                throw error("expected `,` or `]` in the array, found \(describe(separator))")
            }
        }
    }

    private mutating func parseInlineTable(line: Int, column: Int) throws(TOMLSyntaxError) -> TOMLTableBuilder {
        index += 1
        let table = TOMLTableBuilder(kind: .inline, line: line, column: column)
        skipSpaces()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return table
        }
        while true {
            skipSpaces()
            try parseKeyValue(into: table)
            skipSpaces()
            guard let byte = peek() else { throw error("unterminated inline table: expected `}`") }
            if byte == UInt8(ascii: "}") {
                index += 1
                return table
            }
            guard byte == UInt8(ascii: ",") else {
                throw error("expected `,` or `}` in the inline table, found \(describe(byte))")
            }
            index += 1
        }
    }

    // MARK: strings

    private mutating func parseBasicString() throws(TOMLSyntaxError) -> String {
        index += 1
        var result: [UInt8] = []
        while let byte = peek() {
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: result, as: UTF8.self)
            case UInt8(ascii: "\\"): result += try parseEscape()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): throw error("newline in a string; close the quote, or use \"\"\"")
            default: result.append(byte)
            }
        }
        throw error("unterminated string: expected a closing `\"`")
    }

    private mutating func parseMultilineBasicString() throws(TOMLSyntaxError) -> String {
        index += 3
        skipFirstNewline()
        var result: [UInt8] = []
        while let byte = peek() {
            if startsWith("\"\"\"") {
                index += 3
                // Up to two quotes right before the closing delimiter belong to the string.
                while peek() == UInt8(ascii: "\""), result.count < Int.max {
                    result.append(UInt8(ascii: "\""))
                    index += 1
                }
                return String(decoding: result, as: UTF8.self)
            }
            index += 1
            if byte == UInt8(ascii: "\\") {
                if lineEndingBackslash() { continue }
                result += try parseEscape()
            } else {
                if byte == UInt8(ascii: "\n") { noteNewline() }
                result.append(byte)
            }
        }
        throw error("unterminated multi-line string: expected `\"\"\"`")
    }

    private mutating func parseLiteralString() throws(TOMLSyntaxError) -> String {
        index += 1
        let start = index
        while let byte = peek() {
            if byte == UInt8(ascii: "'") {
                index += 1
                return String(decoding: bytes[start..<index - 1], as: UTF8.self)
            }
            if byte == UInt8(ascii: "\n") { throw error("newline in a literal string; use ''' for several lines") }
            index += 1
        }
        throw error("unterminated literal string: expected a closing `'`")
    }

    private mutating func parseMultilineLiteralString() throws(TOMLSyntaxError) -> String {
        index += 3
        skipFirstNewline()
        var result: [UInt8] = []
        while let byte = peek() {
            if startsWith("'''") {
                index += 3
                while peek() == UInt8(ascii: "'") {
                    result.append(UInt8(ascii: "'"))
                    index += 1
                }
                return String(decoding: result, as: UTF8.self)
            }
            index += 1
            if byte == UInt8(ascii: "\n") { noteNewline() }
            result.append(byte)
        }
        throw error("unterminated multi-line literal string: expected `'''`")
    }

    private mutating func parseEscape() throws(TOMLSyntaxError) -> [UInt8] {
        guard let byte = peek() else { throw error("unterminated escape sequence") }
        index += 1
        switch byte {
        case UInt8(ascii: "b"): return [0x08]
        case UInt8(ascii: "t"): return [0x09]
        case UInt8(ascii: "n"): return [0x0A]
        case UInt8(ascii: "f"): return [0x0C]
        case UInt8(ascii: "r"): return [0x0D]
        case UInt8(ascii: "e"): return [0x1B]
        case UInt8(ascii: "\""): return [UInt8(ascii: "\"")]
        case UInt8(ascii: "\\"): return [UInt8(ascii: "\\")]
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = byte == UInt8(ascii: "u") ? 4 : 8
            guard index + count <= bytes.count,
                let code = UInt32(String(decoding: bytes[index..<index + count], as: UTF8.self), radix: 16),
                let scalar = Unicode.Scalar(code)
            else { throw error("invalid unicode escape") }
            index += count
            return Array(String(Character(scalar)).utf8)
        default:
            throw error("invalid escape `\\\(Character(Unicode.Scalar(byte)))`; write `\\\\` for a backslash")
        }
    }

    /// A backslash at the end of a line in a `"""` string trims the newline and the whitespace after it.
    private mutating func lineEndingBackslash() -> Bool {
        var probe = index
        while probe < bytes.count, bytes[probe] == UInt8(ascii: " ") || bytes[probe] == UInt8(ascii: "\t") { probe += 1 }
        guard probe < bytes.count, bytes[probe] == UInt8(ascii: "\n") || bytes[probe] == UInt8(ascii: "\r") else {
            return false
        }
        index = probe
        while let byte = peek(), [0x20, 0x09, 0x0A, 0x0D].contains(byte) {
            index += 1
            if byte == UInt8(ascii: "\n") { noteNewline() }
        }
        return true
    }

    private mutating func skipFirstNewline() {
        if startsWith("\r\n") { index += 2; noteNewline() } else if peek() == UInt8(ascii: "\n") { index += 1; noteNewline() }
    }

    // MARK: numbers and dates

    private mutating func parseNumberOrDate() throws(TOMLSyntaxError) -> TOMLValue.Kind {
        let start = index
        while let byte = peek(), !Self.endsToken(byte) { index += 1 }
        // A date-time may use a space between date and time: `1979-05-27 07:32:00Z`.
        if index - start == 10, bytes[start + 4] == UInt8(ascii: "-"), peek() == UInt8(ascii: " "),
            index + 3 < bytes.count, bytes[index + 3] == UInt8(ascii: ":")
        {
            index += 1
            while let byte = peek(), !Self.endsToken(byte) { index += 1 }
        }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        guard !token.isEmpty else { throw error("expected a value, found \(describe(peek() ?? 0))") }
        if let date = Self.dateTime(token) { return date }
        if let number = Self.number(token) { return number }
        index = start
        throw error("`\(token)` is not a valid value; strings need quotes, e.g. \"\(token)\"")
    }

    private static func endsToken(_ byte: UInt8) -> Bool {
        [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: ","),
         UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "#")].contains(byte)
    }

    static func number(_ token: String) -> TOMLValue.Kind? {
        switch token {
        case "inf", "+inf": return .double(.infinity)
        case "-inf": return .double(-.infinity)
        case "nan", "+nan", "-nan": return .double(.nan)
        default: break
        }
        guard validUnderscores(token) else { return nil }
        let plain = token.filter { $0 != "_" }
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where plain.hasPrefix(prefix) {
            return Int(plain.dropFirst(2), radix: radix).map { .int($0) }
        }
        let digits = plain.drop { $0 == "+" || $0 == "-" }
        guard let first = digits.first, first.isNumber else { return nil }
        let isFloat = plain.contains { $0 == "." || $0 == "e" || $0 == "E" }
        if isFloat {
            // TOML requires digits on both sides of the point: `1.` and `.5` are invalid.
            if let dot = plain.firstIndex(of: ".") {
                let before = plain[..<dot].last, after = plain[plain.index(after: dot)...].first
                guard before?.isNumber == true, after?.isNumber == true else { return nil }
            }
            return Double(plain).map { .double($0) }
        }
        if digits.count > 1, digits.first == "0" { return nil }  // no leading zeros
        return Int(plain).map { .int($0) }
    }

    private static func validUnderscores(_ token: String) -> Bool {
        let characters = Array(token)
        for (offset, character) in characters.enumerated() where character == "_" {
            guard offset > 0, offset + 1 < characters.count, characters[offset - 1].isHexDigit,
                characters[offset + 1].isHexDigit
            else { return false }
        }
        return true
    }

    static func dateTime(_ token: String) -> TOMLValue.Kind? {
        let b = Array(token.utf8)
        func digits(_ range: Range<Int>) -> Bool { range.upperBound <= b.count && b[range].allSatisfy { $0 >= 48 && $0 <= 57 } }
        let isDate = b.count >= 10 && digits(0..<4) && b[4] == UInt8(ascii: "-") && digits(5..<7)
            && b[7] == UInt8(ascii: "-") && digits(8..<10)
        let isTime = b.count >= 8 && digits(0..<2) && b[2] == UInt8(ascii: ":") && digits(3..<5)
            && b[5] == UInt8(ascii: ":") && digits(6..<8)
        return isDate || isTime ? .dateTime(token) : nil
    }

    // MARK: low-level scanning

    private var position: (Int, Int) { (line, index - lineStart + 1) }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private func startsWith(_ text: String) -> Bool {
        let needle = Array(text.utf8)
        return index + needle.count <= bytes.count && Array(bytes[index..<index + needle.count]) == needle
    }

    private mutating func skipSpaces() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    private mutating func skipComment() throws(TOMLSyntaxError) {
        while let byte = peek(), byte != UInt8(ascii: "\n") {
            if byte == UInt8(ascii: "\r"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") { return }
            index += 1
        }
    }

    private mutating func skipSpacesNewlinesAndComments() throws(TOMLSyntaxError) {
        while true {
            skipSpaces()
            switch peek() {
            case UInt8(ascii: "#"): try skipComment()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try expectNewline()
            default: return
            }
        }
    }

    private mutating func expectNewline() throws(TOMLSyntaxError) {
        if startsWith("\r\n") {
            index += 1
        } else if peek() == UInt8(ascii: "\r") {
            throw error("a carriage return must be followed by a newline")
        }
        consumeNewline()
    }

    private mutating func consumeNewline() {
        index += 1
        noteNewline()
    }

    private mutating func noteNewline() {
        line += 1
        lineStart = index
    }

    private func describe(_ byte: UInt8) -> String {
        switch byte {
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"): "the end of the line"
        case 0: "nothing"
        case 0x80...: "the byte 0x\(String(byte, radix: 16, uppercase: true))"
        default: "`\(String(Character(Unicode.Scalar(byte))).escapingInvisibles)`"
        }
    }

    private func error(_ message: String) -> TOMLSyntaxError {
        TOMLSyntaxError(message: message, line: line, column: index - lineStart + 1)
    }
}
