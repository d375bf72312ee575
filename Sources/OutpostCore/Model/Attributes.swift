/// A typed attribute value, as OpenTelemetry models them (string, int, double, bool).
package enum AttributeValue: Sendable, Hashable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
}

extension AttributeValue: CustomStringConvertible {
    package var description: String {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .bool(let value): String(value)
        }
    }
}

/// An ordered list of key/value attributes; order is kept so output is stable and diffable.
package struct Attributes: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    package private(set) var entries: [(key: String, value: AttributeValue)]

    package init(_ entries: [(key: String, value: AttributeValue)] = []) {
        self.entries = entries
    }

    package init(dictionaryLiteral elements: (String, AttributeValue)...) {
        self.entries = elements.map { (key: $0.0, value: $0.1) }
    }

    package var isEmpty: Bool { entries.isEmpty }

    package subscript(key: String) -> AttributeValue? {
        get { entries.first { $0.key == key }?.value }
        set {
            if let index = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
            } else if let newValue {
                entries.append((key: key, value: newValue))
            }
        }
    }

    /// Adds `value` under `key` when it is non-empty; optional descriptive attributes stay out otherwise.
    package mutating func set(_ key: String, ifPresent value: String?) {
        if let value, !value.isEmpty { self[key] = .string(value) }
    }

    package static func == (lhs: Attributes, rhs: Attributes) -> Bool {
        lhs.entries.elementsEqual(rhs.entries) { $0.key == $1.key && $0.value == $1.value }
    }

    package func hash(into hasher: inout Hasher) {
        for entry in entries {
            hasher.combine(entry.key)
            hasher.combine(entry.value)
        }
    }
}
