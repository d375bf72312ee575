import OutpostCore

/// Fills an alert topic template: `{prefix}`, `{gateway}`, `{severity}` (info, warn, error), `{series}` (or `none`),
/// `{event}`. Whatever a series name holds, the result is a valid MQTT topic name (MQTT 5 §4.7, 3.1.1 §4.7):
/// the wildcards `+` and `#`, NUL and other control characters become `_`, and it is cut to 65535 bytes.
package struct AlertTopic: Sendable, Equatable {
    package let template: String
    package let prefix: String
    package let gateway: String

    package init(template: String, prefix: String, gateway: String) {
        self.template = template
        self.prefix = prefix
        self.gateway = gateway
    }

    package func topic(for event: Event) -> String {
        var topic = template
        for (key, value) in [("{prefix}", prefix), ("{gateway}", gateway),
                             ("{severity}", event.severity.text.lowercased()), ("{series}", event.series?.name ?? "none"),
                             ("{event}", event.name.rawValue)] {
            topic = topic.replacing(key, with: value)
        }
        return Self.validTopicName(topic)
    }

    /// MQTT 5 §1.5.4 and §4.7.3: a topic name is UTF-8 (Swift strings are), holds no NUL and should hold no other
    /// control characters, must not hold the wildcards `+` and `#`, and is at most 65535 bytes long.
    package static func validTopicName(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars {
            let safe: Unicode.Scalar = scalar == "+" || scalar == "#" || scalar.properties.generalCategory == .control
                ? "_" : scalar
            bytes += String(safe).utf8.count
            guard bytes <= 65535 else { break }
            scalars.append(safe)
        }
        return String(scalars)
    }
}
