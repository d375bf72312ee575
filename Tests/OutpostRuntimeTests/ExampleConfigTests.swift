import Foundation
import OutpostTestSupport
import OutpostCore
import Testing
@testable import OutpostRuntime

/// The repository's root, found from this file's place in it.
@Suite("Shipped configs")
struct ExampleConfigTests {
    static var exampleFiles: [String] {
        let folder = repositoryRoot.appendingPathComponent("config/examples")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".toml") }.sorted().map { folder.appendingPathComponent($0).path }
    }

    @Test("there are examples to check")
    func examplesExist() {
        #expect(Self.exampleFiles.contains { $0.hasSuffix("raspberry-pi-greenhouse.toml") })
        #expect(Self.exampleFiles.contains { $0.hasSuffix("replay.toml") })
    }

    @Test("every example config is valid", arguments: exampleFiles)
    func exampleIsValid(path: String) throws {
        let configuration = try OutpostConfiguration.load(path: path, environment: [:])
        #expect(!configuration.inputs.isEmpty)
    }

    @Test("config/outpost.toml is valid and documents every key the code reads")
    func referenceDocumentsEveryKey() throws {
        let path = repositoryRoot.appendingPathComponent("config/outpost.toml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let diagnostics = ConfigDiagnostics(file: path)
        _ = try OutpostConfiguration.parse(text, file: path, environment: [:], sampleClock: nil,
                                           diagnostics: diagnostics)
        let written = Set(text.split(separator: "\n").flatMap { line -> [String] in
            let trimmed = line.drop { $0 == " " || $0 == "#" }
            if trimmed.hasPrefix("[") {  // a table header documents each of its keys
                let header = trimmed.split(whereSeparator: { "[]".contains($0) }).first ?? ""
                return header.split(separator: ".").map(String.init)
            }
            guard let equals = trimmed.firstIndex(of: "=") else { return [] }
            return [String(trimmed[..<equals]).trimmingCharacters(in: .whitespaces)]
        })
        // Keys every input takes are documented once, in the inputs' preamble.
        let shared: Set<String> = ["enabled", "detect"]
        let undocumented = diagnostics.askedKeys.filter { path in
            let key = String(path.split(separator: ".").last ?? "")
            return !written.contains(key) && !shared.contains(key)
        }
        #expect(undocumented.isEmpty, "keys read but not in config/outpost.toml: \(undocumented.sorted())")
        let kinds = InputRegistry.kinds.map { $0.kind }
        for kind in kinds {
            #expect(text.contains("[input.\(kind)]") || text.contains("[[input.\(kind)]]"), "input kind \(kind)")
        }
    }

    @Test("the built-in default is valid and runs simulated sensors plus host health")
    func builtInDefault() throws {
        let configuration = try OutpostConfiguration.parse(BuiltInConfiguration.text, file: "built-in", environment: [:])
        #expect(Set(configuration.inputs.map(\.kind)) == ["host", "simulated"])
    }
}
