/// Where a config value sits in its file; every operator-facing config error carries one.
package struct ConfigLocation: Sendable, Hashable, CustomStringConvertible {
    package let file: String
    package let line: Int
    package let column: Int

    package init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    package var description: String { "\(file):\(line):\(column)" }
}

/// One step of a key path: a table key or a position in an array (0-based here, shown 1-based to operators).
package enum ConfigPathComponent: Sendable, Hashable {
    case key(String)
    case index(Int)
}

/// The path of a value inside the config, printed the way an operator finds it: `input.file[#2].interval`.
package struct ConfigPath: Sendable, Hashable, CustomStringConvertible {
    package var components: [ConfigPathComponent]

    package init(_ components: [ConfigPathComponent] = []) {
        self.components = components
    }

    package func appending(_ key: String) -> ConfigPath { ConfigPath(components + [.key(key)]) }
    package func appending(index: Int) -> ConfigPath { ConfigPath(components + [.index(index)]) }

    package var parent: ConfigPath? {
        components.isEmpty ? nil : ConfigPath(Array(components.dropLast()))
    }

    package var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key):
                let bare = !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
                let shown = bare ? key : "\"\(key)\""
                text += text.isEmpty ? shown : "." + shown
            case .index(let index):
                text += "[#\(index + 1)]"
            }
        }
        return text.isEmpty ? "(top level)" : text
    }
}

/// A parsed config value, independent of the TOML library, with the location of its key.
package indirect enum ConfigValue: Sendable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case dateTime(String)
    case array([ConfigNode])
    case table(ConfigTable)

    package var typeName: String {
        switch self {
        case .string: "a string"
        case .int: "an integer"
        case .double: "a number"
        case .bool: "a boolean"
        case .dateTime: "a date-time"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// A value plus where it is and what it is called.
package struct ConfigNode: Sendable {
    package let value: ConfigValue
    package let path: ConfigPath
    package let location: ConfigLocation?

    package init(value: ConfigValue, path: ConfigPath, location: ConfigLocation?) {
        self.value = value
        self.path = path
        self.location = location
    }
}

/// A table's entries in a stable order.
package struct ConfigTable: Sendable {
    package let entries: [(key: String, node: ConfigNode)]

    package init(entries: [(key: String, node: ConfigNode)]) {
        self.entries = entries
    }

    package subscript(key: String) -> ConfigNode? {
        entries.first { $0.key == key }?.node
    }
}
