/// Builds compact JSON text with keys in the order written: stable output that diffs and greps well.
package struct JSONWriter {
    package private(set) var text = ""
    private var needsComma = [false]

    package init() {}

    package mutating func beginObject(_ key: String? = nil) {
        prefix(key)
        text += "{"
        needsComma.append(false)
    }

    package mutating func endObject() {
        text += "}"
        needsComma.removeLast()
    }

    package mutating func beginArray(_ key: String?) {
        prefix(key)
        text += "["
        needsComma.append(false)
    }

    package mutating func endArray() {
        text += "]"
        needsComma.removeLast()
    }

    package mutating func string(_ key: String?, _ value: String) {
        prefix(key)
        Self.appendQuoted(value, to: &text)
    }

    package mutating func number(_ key: String?, _ value: Double) {
        prefix(key)
        text += Self.format(value)
    }

    package mutating func integer(_ key: String?, _ value: Int64) {
        prefix(key)
        text += String(value)
    }

    package mutating func bool(_ key: String?, _ value: Bool) {
        prefix(key)
        text += value ? "true" : "false"
    }

    package mutating func null(_ key: String?) {
        prefix(key)
        text += "null"
    }

    private mutating func prefix(_ key: String?) {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
        if let key {
            Self.appendQuoted(key, to: &text)
            text += ":"
        }
    }

    /// JSON has no NaN or infinity: they become `null`. Integral values print without a fraction.
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func appendQuoted(_ value: String, to text: inout String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
