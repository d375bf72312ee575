import OutpostInputs

/// Every input kind Outpost knows, by its config table name (`[[input.<kind>]]`).
///
/// Adding an input kind: a folder in `Sources/OutpostInputs/`, its keys in `config/outpost.toml`, and one line here.
enum InputRegistry {
    // Metatypes of stateless enums: nothing in them can be mutated or shared.
    nonisolated(unsafe) static let kinds: [any InputKind.Type] = [
        HostInput.self,
        FileInput.self,
        ExecInput.self,
        SimulatedInput.self,
        ReplayInput.self,
        MQTTInput.self,
        ModbusInput.self,
    ]

    static func kind(named name: String) -> (any InputKind.Type)? {
        kinds.first { $0.kind == name }
    }
}
