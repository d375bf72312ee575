import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostRuntime

@Suite("outpost status and outpost spool, on a running Outpost")
struct StatusAndSpoolCommandTests {
    @Test("status, spool stats, inspect and export show what waits; purge refuses while running, works after")
    func tools() async throws {
        let state = try temporaryStateDirectory()
        let config = try writeTemporary("tools.toml", """
            [gateway]
            state_dir = "\(state)"
            id = "tools-gw"
            [batch]
            max_age = "200ms"
            [detect]
            # No alerts: `inspect` shows the alerts lane first. Gaussian noise crosses 3 sigma now and then, and a
            # loaded machine can leave 60 ms (3 intervals) without a sample.
            enabled = false
            stale_after = 0
            [status]
            interval = "200ms"
            [[input.simulated]]
            name = "tank.level"
            unit = "%"
            interval = "20ms"
            """)
        let process = try OutpostProcess.start(config: config)
        defer { if process.isRunning { process.terminate() } }
        try await poll("three spooled batches") {
            try OutpostProcess.spooledBatches(config, lane: "metrics") >= 3
        }
        let (statusCode, status, _) = try OutpostProcess.run(["status", "--config", config.path])
        #expect(statusCode == 0)
        #expect(status.contains("on tools-gw: running"))
        #expect(status.contains("[simulated] tank.level:"))
        #expect(status.contains("anomaly episodes over the per-series budget 0"), "\(status)")
        let (_, json, _) = try OutpostProcess.run(["status", "--config", config.path, "--json"])
        let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(document?["schema"] as? String == "outpost.status.v1")
        #expect(document?["anomalies_suppressed"] as? Int == 0)
        #expect(((document?["spool"] as? [String: Any])?["lanes"] as? [String: Any])?["metrics"] != nil)

        let (_, inspected, _) = try OutpostProcess.run(["spool", "inspect", "--config", config.path, "--limit", "1"])
        let line = try #require(inspected.split(separator: "\n").first)
        let batch = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(batch?["lane"] as? String == "metrics")
        let payload = batch?["payload"] as? [String: Any]
        let metricName = ((((payload?["resourceMetrics"] as? [[String: Any]])?.first?["scopeMetrics"]
            as? [[String: Any]])?.first?["metrics"] as? [[String: Any]])?.first?["name"]) as? String
        #expect(metricName == "tank.level")

        let exportDirectory = state + "/export"
        let (exportCode, exported, _) = try OutpostProcess.run(["spool", "export", "--config", config.path,
                                                                exportDirectory])
        #expect(exportCode == 0, "\(exported)")
        let files = try FileManager.default.contentsOfDirectory(atPath: exportDirectory)
        #expect(files.count >= 3)
        #expect(files.allSatisfy { $0.hasSuffix(".pb.gz") })

        let (refused, _, why) = try OutpostProcess.run(["spool", "purge", "--config", config.path])
        #expect(refused != 0)
        #expect(why.contains("is running on this spool"))
        process.terminate()
        process.waitUntilExit()
        let (purgeCode, purged, _) = try OutpostProcess.run(["spool", "purge", "--config", config.path])
        #expect(purgeCode == 0)
        #expect(purged.hasPrefix("purged "))
        let (_, after, _) = try OutpostProcess.run(["spool", "stats", "--config", config.path])
        #expect(after.contains("metrics          0"))
    }
}

@Suite("outpost boards")
struct BoardsCommandTests {
    static let files = (try? FileManager.default.contentsOfDirectory(
        atPath: repositoryRoot.appendingPathComponent("Boards").path))?.filter { $0.hasSuffix(".toml") }.sorted() ?? []

    @Test("outpost status names a running Outpost that cannot write its status file, instead of asking if it runs")
    func statusUnwritable() async throws {
        let state = try temporaryStateDirectory()
        let config = try writeTemporary("unwritable-status.toml", """
            [gateway]
            state_dir = "\(state)"
            id = "status-gw"
            [status]
            path = "\(state)/no-such-folder/status.json"
            interval = "200ms"
            [[input.simulated]]
            name = "tank.level"
            interval = "1s"
            """)
        let process = try OutpostProcess.start(config: config)
        defer { if process.isRunning { process.terminate() } }
        var answer = ""
        try await poll("outpost status to find it running") {
            answer = try OutpostProcess.run(["status", "--config", config.path]).2
            return answer.contains("is running with this config")
        }
        #expect(answer.contains("(pid \(process.processIdentifier))"), "\(answer)")
        #expect(answer.contains("It cannot write it"))
        #expect(!answer.contains("Is Outpost running"))
        process.terminate()
        process.waitUntilExit()
        let (_, _, stopped) = try OutpostProcess.run(["status", "--config", config.path])
        #expect(stopped.contains("Is Outpost running with this config?"))
    }

    @Test("outpost boards lists every board with its triple")
    func listCommand() throws {
        let (status, out, _) = try OutpostProcess.run(["boards"])
        #expect(status == 0)
        for file in Self.files {
            #expect(out.contains(String(file.dropLast(5)) + " "))
        }
        #expect(out.contains("aarch64-unknown-linux-gnu"))
    }
}
