import OutpostCore

/// Turns text from a file or a command into a number: an optional regex capture, then scale and offset.
package struct NumberExtraction: Sendable {
    /// `regex`: the first capture group (or the whole match) is the number; without it, the first number in the text.
    package let pattern: String?
    /// `scale`, default `1.0`: multiplies the raw number (0.001 turns millidegrees into degrees).
    package let scale: Double
    /// `offset`, default `0.0`: added after scaling (a calibration correction).
    package let offset: Double

    /// Validates `pattern` now; matching compiles it again per use, because `Regex` is not `Sendable` and a poll
    /// every few seconds makes the cost of compiling irrelevant.
    package init(pattern: String? = nil, scale: Double = 1, offset: Double = 0) throws {
        if let pattern { _ = try Regex(pattern) }
        self.pattern = pattern
        self.scale = scale
        self.offset = offset
    }

    /// Reads `regex`, `scale` and `offset`, reporting a regex that does not compile at its key.
    package static func read(_ reader: ConfigReader) -> NumberExtraction {
        let pattern = reader.string("regex")
        let scale = reader.double("scale", default: 1)
        let offset = reader.double("offset", default: 0)
        do {
            return try NumberExtraction(pattern: pattern, scale: scale, offset: offset)
        } catch {
            reader.invalid("regex", "is not a valid regular expression: \(error)")
            return try! NumberExtraction(scale: scale, offset: offset)
        }
    }

    package func extract(from text: String) -> Double? {
        extractScaled(from: text).map { $0 + offset }
    }

    /// The number times `scale`, before `offset`.
    package func extractScaled(from text: String) -> Double? {
        let raw: Substring?
        if let pattern, let regex = try? Regex(pattern) {
            guard let match = try? regex.firstMatch(in: text) else { return nil }
            raw = match.output.count > 1 ? match.output[1].substring : match.output[0].substring
        } else {
            raw = Self.firstNumber(in: text)
        }
        guard let raw, let value = Double(raw.trimmingSpacesSubstring()) else { return nil }
        return value * scale
    }

    /// The first decimal number in `text` (`-12.5`, `3e4`, `42`), as Telegraf's and collectd's parsers take it.
    package static func firstNumber(in text: String) -> Substring? {
        let characters = text[...]
        var index = characters.startIndex
        while index < characters.endIndex {
            let character = characters[index]
            let next = characters.index(after: index)
            let startsNumber = character.isASCIIDigit
                || ((character == "-" || character == "+" || character == ".") && next < characters.endIndex
                    && characters[next].isASCIIDigit)
            if startsNumber {
                var end = next
                while end < characters.endIndex,
                    characters[end].isASCIIDigit || characters[end] == "." || characters[end] == "e"
                        || characters[end] == "E"
                        || ((characters[end] == "-" || characters[end] == "+")
                            && (characters[characters.index(before: end)] == "e"
                                || characters[characters.index(before: end)] == "E"))
                {
                    end = characters.index(after: end)
                }
                var candidate = characters[index..<end]
                // The longest prefix that is a number: `1.2.3` gives 1.2, `5e` gives 5.
                while !candidate.isEmpty, Double(candidate) == nil { candidate = candidate.dropLast() }
                if !candidate.isEmpty { return candidate }
            }
            index = next
        }
        return nil
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Substring {
    func trimmingSpacesSubstring() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
