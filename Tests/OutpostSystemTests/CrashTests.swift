import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostRuntime
@testable import OutpostSpool
@testable import OutpostTools

@Suite("Crash safety of the spool")
struct CrashTests {
    func batchIDs(_ path: String) -> [String] {
        guard FileManager.default.fileExists(atPath: path),
            let spool = try? SQLiteSpool(readOnlyPath: path), let batches = try? spool.batches(limit: Int.max)
        else { return [] }
        return batches.map(\.batch.id)
    }

    @Test("kill -9 during sustained ingest loses no accepted batch; after a restart each is there exactly once")
    func killNine() async throws {
        let state = try temporaryStateDirectory()
        let spoolPath = state + "/spool.db"
        let config = try writeTemporary("crash.toml", """
            [gateway]
            state_dir = "\(state)"
            [batch]
            max_age = "200ms"
            [status]
            self_metrics_interval = "0s"
            [detect]
            enabled = false
            [[input.simulated]]
            name = "load.a"
            interval = "10ms"
            [[input.simulated]]
            name = "load.b"
            interval = "10ms"
            """)
        let first = try OutpostProcess.start(config: config)
        try await poll("10 batches in the spool") { batchIDs(spoolPath).count >= 10 }
        let accepted = batchIDs(spoolPath)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)

        let second = try OutpostProcess.start(config: config)
        try await poll("new batches after the restart") { batchIDs(spoolPath).count >= accepted.count + 5 }
        second.terminate()
        second.waitUntilExit()
        #expect(second.terminationStatus == 0)

        let after = batchIDs(spoolPath)
        let counts = Dictionary(after.map { ($0, 1) }, uniquingKeysWith: +)
        #expect(accepted.allSatisfy { counts[$0] == 1 }, "every accepted batch is there exactly once")
        let database = try SQLiteDatabase(path: spoolPath, readOnly: true)
        let check = try database.prepare("PRAGMA integrity_check")
        _ = try check.step()
        #expect(check.text(0) == "ok")
        // No point was spooled twice: each (series, time) appears once across every batch.
        var seen = Set<String>()
        var duplicates = 0
        for spooled in try SQLiteSpool(readOnlyPath: spoolPath).batches(limit: Int.max) where spooled.batch.signal == .metrics {
            let json = try SpoolTools.decode(spooled.batch)
            let request = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            for resource in request["resourceMetrics"] as? [[String: Any]] ?? [] {
                for scope in resource["scopeMetrics"] as? [[String: Any]] ?? [] {
                    for metric in scope["metrics"] as? [[String: Any]] ?? [] {
                        let points = (metric["gauge"] as? [String: Any])?["dataPoints"] as? [[String: Any]] ?? []
                        for point in points {
                            let key = "\(metric["name"] ?? "")@\(point["timeUnixNano"] ?? "")"
                            if !seen.insert(key).inserted { duplicates += 1 }
                        }
                    }
                }
            }
        }
        #expect(duplicates == 0)
        #expect(seen.count > 100)
    }
}
