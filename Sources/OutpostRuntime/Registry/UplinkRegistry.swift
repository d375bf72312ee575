import OutpostUplinks

/// Every uplink kind Outpost knows, by its config table name (`[[uplink.<kind>]]`).
///
/// Adding an uplink kind: a folder in `Sources/OutpostUplinks/`, its keys in `config/outpost.toml`, and one line here.
enum UplinkRegistry {
    // Metatypes of stateless types in a `let`: never mutated, nothing shared.
    nonisolated(unsafe) static let kinds: [any UplinkKind.Type] = [
        OTLPHTTPUplink.self,
        MQTTUplink.self,
    ]

    static func kind(named name: String) -> (any UplinkKind.Type)? {
        kinds.first { $0.kind == name }
    }
}
