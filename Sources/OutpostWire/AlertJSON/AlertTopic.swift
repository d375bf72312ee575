import OutpostCore

/// Fills an alert topic template: `{prefix}`, `{gateway}`, `{severity}` (info, warn, error), `{series}` (or `none`),
/// `{event}`. Characters MQTT reserves in topic names (`+`, `#`) are replaced by `_`.
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
        return String(topic.map { $0 == "+" || $0 == "#" ? "_" : $0 })
    }
}
