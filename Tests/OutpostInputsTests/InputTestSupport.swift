import Foundation
import OutpostCore
import OutpostInputs

/// The absolute path of a fixture shipped with the tests.
func fixture(_ relative: String) -> String {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(relative).path
}

/// A fresh temporary folder, removed by the caller.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A config table built in code, as the TOML loader would hand it to an input.
func reader(_ entries: [(String, ConfigValue)], diagnostics: ConfigDiagnostics = ConfigDiagnostics(file: "test.toml"))
    -> ConfigReader
{
    let path = ConfigPath([.key("input"), .key("test")])
    let table = ConfigTable(entries: entries.map { key, value in
        (key: key, node: ConfigNode(value: value, path: path.appending(key), location: nil))
    })
    return ConfigReader(node: ConfigNode(value: .table(table), path: path, location: nil), diagnostics: diagnostics)
}

func context(stateDirectory: String = "/tmp", hostDefaults: HostBoardDefaults = HostBoardDefaults()) -> InputContext {
    InputContext(stateDirectory: stateDirectory, configDirectory: "", hostDefaults: hostDefaults)
}

extension Array where Element == Reading {
    var samples: [Sample] { compactMap { if case .sample(let sample) = $0 { sample } else { nil } } }
    var forgotten: [Series] { compactMap { if case .forgotten(let series) = $0 { series } else { nil } } }
    var events: [Event] { compactMap { if case .event(let event) = $0 { event } else { nil } } }
    var problems: [String] { compactMap { if case .problem(let text) = $0 { text } else { nil } } }

    func value(_ name: String, _ attributes: [String: String] = [:]) -> Double? {
        samples.first { sample in
            sample.series.name == name
                && attributes.allSatisfy { sample.series.attributes[$0.key] == .string($0.value) }
        }?.value
    }
}
