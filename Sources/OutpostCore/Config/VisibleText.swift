extension String {
    /// The text with every invisible or control character written as `\u{XXXX}`, so a message that quotes input
    /// shows why two strings that look the same differ (a byte order mark, a zero-width space, a non-breaking
    /// space, a stray carriage return).
    package var escapingInvisibles: String {
        var result = ""
        for scalar in unicodeScalars {
            if scalar.isInvisible {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

extension Unicode.Scalar {
    /// Characters that print as nothing or as something else: controls, format characters (U+FEFF, U+200B),
    /// separators other than the plain space, and code points with no glyph.
    var isInvisible: Bool {
        if self == " " { return false }
        switch properties.generalCategory {
        case .control, .format, .spaceSeparator, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate,
            .unassigned:
            return true
        default:
            return false
        }
    }
}
