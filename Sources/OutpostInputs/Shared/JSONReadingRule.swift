import OutpostCore

/// Which values of a JSON document are readings, and what their fields are called: one rule for every input that
/// reads JSON (`[[input.mqtt]]` payloads, `[[input.exec]]` with `format = "json"`), so the same document makes the
/// same series whichever way it arrives.
///
/// - Numbers are JSON numbers; `true` and `false` are 1 and 0. A number beyond a double's range (`1e999`) is a
///   problem that names the text received, never a reading; so is a string a failed sensor sends instead of a number
///   (`"NaN"`, `"inf"`, `"-Infinity"`).
/// - Strings are text, not readings (`"ON"`, a firmware version `"1.2"`, a serial number `"0x10"`), with two ways to
///   ask for them: a field named in `fields`, or `json_strings = "decimal"` for every field. Either way only strict
///   JSON number syntax counts (`"23.5"`, `"-4"`, `"1e3"`): no spaces, no hexadecimal, no `inf` or `nan`.
/// - Nested objects are flattened to dotted names (`{"bme280": {"temperature": 21.1}}` → `bme280.temperature`), up to
///   `maximumDepth` levels; arrays and `null` make no readings (a `fields` path may pick an array item: `values.0`).
/// - Keys are lowercased (`json_keys = "lower"`, the default: metric names are lowercase by convention) or kept as
///   they are (`json_keys = "keep"`). `fields` are matched the same way.
/// - Whatever a device put in a key, the field name is a valid metric name part: characters other than ASCII letters,
///   digits, `_` and `-` become `_` (see `MetricName`).
package struct JSONReadingRule: Sendable, Equatable {
    package enum Keys: String, Sendable, CaseIterable {
        case lower
        case keep
    }

    package enum Strings: String, Sendable, CaseIterable {
        /// Only strings named in `fields` are read (as strict decimals).
        case skip
        /// Every string in strict decimal syntax is read.
        case decimal
    }

    /// Nested objects deeper than this make no readings.
    package static let maximumDepth = 8

    /// `json_keys`, default `"lower"`.
    package var keys = Keys.lower
    /// `json_strings`, default `"skip"`.
    package var strings = Strings.skip

    package init(keys: Keys = .lower, strings: Strings = .skip) {
        self.keys = keys
        self.strings = strings
    }

    /// `json_keys` and `json_strings` from an input's table.
    package static func read(_ reader: ConfigReader) -> JSONReadingRule {
        JSONReadingRule(
            keys: Keys(rawValue: reader.choice("json_keys", Keys.allCases.map(\.rawValue), default: "lower")) ?? .lower,
            strings: Strings(rawValue: reader.choice("json_strings", Strings.allCases.map(\.rawValue),
                                                     default: "skip")) ?? .skip)
    }

    /// What a document holds under the rule.
    package struct Values: Sendable, Equatable {
        /// Field names (flattened, normalised, valid metric name parts) and their values, in document order.
        package var readings: [(field: String, value: Double)] = []
        /// Values that look like readings but cannot be one (`1e999`, `"NaN"`): the field, and why (naming the text).
        package var problems: [(field: String, reason: String)] = []
        /// Entries of `fields` the document does not hold as a reading.
        package var missing: [String] = []

        package static func == (lhs: Values, rhs: Values) -> Bool {
            lhs.readings.elementsEqual(rhs.readings) { $0.field == $1.field && $0.value == $1.value }
                && lhs.problems.elementsEqual(rhs.problems) { $0 == $1 } && lhs.missing == rhs.missing
        }
    }

    /// The readings of `document`: every numeric leaf when `fields` is empty, else the fields named there (dotted
    /// paths, matched with the rule's key case).
    package func values(of document: JSONValue, fields: [String] = []) -> Values {
        var values = Values()
        if fields.isEmpty {
            flatten(document, prefix: "", depth: 0, into: &values)
            return values
        }
        for field in fields {
            guard let value = lookup(field, in: document) else {
                values.missing.append(field)
                continue
            }
            let name = MetricName.field(normalise(field))
            switch reading(value, named: true) {
            case .value(let number): values.readings.append((name, number))
            case .problem(let text): values.problems.append((name, text))
            case .none: values.missing.append(field)
            }
        }
        return values
    }

    private enum Reading {
        case value(Double)
        case problem(String)
    }

    /// A leaf as a reading, a problem, or nil (not a reading: text, null, an array).
    private func reading(_ value: JSONValue, named: Bool) -> Reading? {
        switch value {
        case .number(let number): return .value(number)
        case .bool(let flag): return .value(flag ? 1 : 0)
        case .overflowingNumber(let text): return .problem("`\(text.prefix(40))` is beyond a double's range")
        case .string(let text):
            if Self.isNonFiniteWord(text) { return .problem("`\(text)` is not a number") }
            guard named || strings == .decimal, Self.isStrictDecimal(text) else { return nil }
            guard let number = Double(text), number.isFinite else {
                return .problem("`\(text.prefix(40))` is beyond a double's range")
            }
            return .value(number)
        case .null, .array, .object: return nil
        }
    }

    private func flatten(_ value: JSONValue, prefix: String, depth: Int, into values: inout Values) {
        guard depth < Self.maximumDepth, case .object(let members) = value else { return }
        for (key, member) in members {
            let path = (prefix.isEmpty ? "" : prefix + ".") + MetricName.field(normalise(key))
            if case .object = member {
                flatten(member, prefix: path, depth: depth + 1, into: &values)
                continue
            }
            switch reading(member, named: false) {
            case .value(let number):
                // Two keys that make one field (`Temp` and `temp` under `json_keys = "lower"`, or `"a.b"` beside
                // `{"a":{"b":…}}`): the later value, once, and a problem so the lost one is not lost silently.
                if let earlier = values.readings.firstIndex(where: { $0.field == path }) {
                    values.readings.remove(at: earlier)
                    values.problems.append((path, "two keys of the document make this one field; the later value "
                        + "is kept (json_keys = \"keep\" keeps keys that differ in case apart)"))
                }
                values.readings.append((path, number))
            case .problem(let text): values.problems.append((path, text))
            case .none: continue
            }
        }
    }

    /// The value at a dotted `path`, object keys compared under the rule's key case, array items by index.
    private func lookup(_ path: String, in document: JSONValue) -> JSONValue? {
        var current = document
        for component in path.split(separator: ".", omittingEmptySubsequences: false) {
            switch current {
            case .object(let members):
                let wanted = normalise(String(component))
                guard let found = members.last(where: { normalise($0.0) == wanted })?.1 else { return nil }
                current = found
            case .array(let items):
                guard let index = Int(component), items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    private func normalise(_ key: String) -> String {
        keys == .lower ? key.lowercased() : key
    }

    /// `nan`, `inf`, `infinity`, signed or not, in any case: what firmwares and C's printf write for a failed reading.
    package static func isNonFiniteWord(_ text: String) -> Bool {
        var word = text.lowercased()[...]
        if word.first == "-" || word.first == "+" { word = word.dropFirst() }
        return word == "nan" || word == "inf" || word == "infinity"
    }

    /// JSON's own number grammar (RFC 8259 §6), and nothing else: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    package static func isStrictDecimal(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        func digits() -> Int {
            let count = bytes.prefix { (0x30...0x39).contains($0) }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        if bytes.first == UInt8(ascii: "0") {
            bytes = bytes.dropFirst()
        } else if digits() == 0 {
            return false
        }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard digits() > 0 else { return false }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }
}

/// Metric names from what devices send (JSON keys, `key=value` keys): whatever they hold, the result is a valid
/// OpenTelemetry instrument name part (`[A-Za-z0-9_.-]`, the name at most 255 characters: the API's instrument name
/// syntax), so a backend never refuses a series, and an MQTT topic made from it is valid.
package enum MetricName {
    /// The longest series name, the OpenTelemetry instrument name limit.
    package static let maximumLength = 255

    /// One field name: each dot-separated part kept to ASCII letters, digits, `_` and `-` (anything else, control
    /// characters and NUL included, becomes `_`; an empty part becomes `_`).
    package static func field(_ text: String) -> String {
        text.split(separator: ".", omittingEmptySubsequences: false).map { part in
            let cleaned = String(part.unicodeScalars.map { scalar -> Character in
                scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_"
                    || scalar == "-") ? Character(scalar) : "_"
            })
            return cleaned.isEmpty ? "_" : cleaned
        }.joined(separator: ".")
    }

    /// An attribute value a device made (a device name from a topic level): control characters (NUL included)
    /// become `_`, so no backend, log line or alert JSON meets them raw.
    package static func visible(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "_" : Character($0) })
    }

    /// `name`, shortened to `maximumLength` when a device made it longer; the cut keeps a short hash of the whole, so
    /// two long names stay two series.
    package static func limited(_ name: String) -> String {
        guard name.utf8.count > maximumLength else { return name }
        var hash: UInt32 = 2_166_136_261
        for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let suffix = "_" + String(hash, radix: 16)
        return String(decoding: name.utf8.prefix(maximumLength - suffix.utf8.count), as: UTF8.self) + suffix
    }
}
