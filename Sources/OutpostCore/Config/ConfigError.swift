/// One problem in a config file: what is wrong, where, and what to do about it.
package struct ConfigError: Error, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        case syntax
        case unknownKey = "unknown-key"
        case missingKey = "missing-key"
        case wrongType = "wrong-type"
        case invalidValue = "invalid-value"
        case undefinedVariable = "undefined-variable"
        case unreadableFile = "unreadable-file"
    }

    package let code: Code
    package let message: String
    package let path: ConfigPath?
    package let location: ConfigLocation?

    package init(_ code: Code, _ message: String, path: ConfigPath?, location: ConfigLocation?) {
        self.code = code
        self.message = message
        self.path = path
        self.location = location
    }

    /// `file:line:column: error[code]: key.path: message`, the shape compilers use so editors can jump to it.
    package var description: String {
        var text = ""
        if let location { text += "\(location): " }
        text += "error[\(code.rawValue)]: "
        if let path, !path.components.isEmpty { text += "\(path): " }
        return text + message
    }
}

/// All the problems found in one config, reported together so an operator fixes them in one pass.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    package let errors: [ConfigError]

    package init(_ errors: [ConfigError]) {
        self.errors = errors.sorted { lhs, rhs in
            (lhs.location?.line ?? .max, lhs.location?.column ?? .max) < (rhs.location?.line ?? .max, rhs.location?.column ?? .max)
        }
    }

    public var description: String {
        let count = errors.count == 1 ? "1 error" : "\(errors.count) errors"
        return (errors.map(\.description) + ["\(count) in the config; nothing was started."]).joined(separator: "\n")
    }
}

/// Collects errors while a config is read, so reading goes on past the first problem.
package final class ConfigDiagnostics {
    package private(set) var errors: [ConfigError] = []
    package let file: String
    /// Every key path any reader asked for, present or not, with array positions left out (`input.file.path`):
    /// lets a test prove the reference config documents every key the code reads.
    package private(set) var askedKeys: Set<String> = []

    package init(file: String) {
        self.file = file
    }

    package func report(_ error: ConfigError) {
        errors.append(error)
    }

    package func report(_ code: ConfigError.Code, _ message: String, at node: ConfigNode) {
        errors.append(ConfigError(code, message, path: node.path, location: node.location))
    }

    func asked(_ path: ConfigPath) {
        askedKeys.insert(path.components.compactMap { if case .key(let key) = $0 { key } else { nil } }
            .joined(separator: "."))
    }

    package func throwIfAny() throws {
        if !errors.isEmpty { throw ConfigErrors(errors) }
    }
}
