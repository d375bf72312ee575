import Foundation
import OutpostTestSupport
import Testing

/// The stage order of Package.swift's comment and ARCHITECTURE.md, checked against what the sources import.
@Suite("Architecture: lower stages never import higher ones")
struct ArchitectureTests {
    /// Rank in the data's order; a target may import only targets of a lower rank. Wire and MQTT sit under the
    /// stages beside Core (they import only Core); Operations (the endpoint, OpAMP) sits over the stages, under the
    /// Runtime that starts them.
    static let rank: [String: Int] = [
        "OutpostCore": 0, "OutpostWire": 1, "OutpostMQTT": 1,
        "OutpostInputs": 2, "OutpostDetect": 3, "OutpostBatch": 4, "OutpostSpool": 5, "OutpostDelivery": 6,
        "OutpostUplinks": 7, "OutpostOperations": 8, "OutpostRuntime": 9, "OutpostTools": 10, "outpost": 11,
    ]

    @Test("every import in Sources points down the pipeline")
    func importsPointDown() throws {
        let sources = repositoryRoot.appendingPathComponent("Sources")
        var violations: [String] = []
        var checked = 0
        for (target, rank) in Self.rank {
            let folder = sources.appendingPathComponent(target)
            let files = FileManager.default.enumerator(atPath: folder.path)?.compactMap { $0 as? String } ?? []
            for file in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") where line.hasPrefix("import Outpost") {
                    let imported = String(line.dropFirst("import ".count))
                    checked += 1
                    guard let importedRank = Self.rank[imported] else {
                        violations.append("\(target)/\(file) imports \(imported), a target ARCHITECTURE.md does not name")
                        continue
                    }
                    if importedRank >= rank { violations.append("\(target)/\(file) imports \(imported)") }
                }
            }
        }
        #expect(checked > 50, "the sources were found and read")
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
    }
}
