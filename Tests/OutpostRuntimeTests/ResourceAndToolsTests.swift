import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostRuntime

@Suite("OTLP resource attributes")
struct ResourceAttributeTests {
    @Test("defaults < [resource] < OTEL_RESOURCE_ATTRIBUTES < OTEL_SERVICE_NAME")
    func precedence() throws {
        let configuration = try OutpostConfiguration.parse("""
            [gateway]
            id = "gw-1"
            [resource]
            site = "north"
            "deployment.environment.name" = "staging"
            [[input.simulated]]
            name = "a"
            """, file: "t.toml", environment: [
                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod, team=ops%20east,broken",
                "OTEL_SERVICE_NAME": "greenhouse-agent",
            ])
        let resource = configuration.resource
        #expect(resource["service.name"] == .string("greenhouse-agent"))
        #expect(resource["service.version"] == .string(OutpostVersion.current))
        #expect(resource["outpost.gateway.id"] == .string("gw-1"))
        #expect(resource["os.type"] == .string("linux"))
        #expect(resource["host.arch"] != nil)
        #expect(resource["site"] == .string("north"))
        #expect(resource["deployment.environment.name"] == .string("prod"))
        #expect(resource["team"] == .string("ops east"))
        #expect(resource["broken"] == nil)
    }
}

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

@Suite("Batch limits across uplinks")
struct BatchLimitTests {
    @Test("the batcher splits to fit the smallest uplink's max_batch_bytes")
    func smallestLimitWins() throws {
        let configuration = try OutpostConfiguration.parse("""
            [batch]
            max_bytes = "512KiB"
            [[uplink.otlp_http]]
            name = "big"
            [[uplink.otlp_http]]
            name = "small"
            max_batch_bytes = "64KiB"
            [[input.simulated]]
            name = "a"
            """, file: "t.toml", environment: [:])
        #expect(configuration.batch.maxBytes == 64 * 1024)
        #expect(configuration.uplinks.map { $0.uplink.name } == ["big", "small"])
    }

    @Test("two uplinks with one name are a config error")
    func uniqueNames() {
        #expect(throws: ConfigErrors.self) {
            try OutpostConfiguration.parse("""
                [[uplink.otlp_http]]
                name = "x"
                [[uplink.otlp_http]]
                name = "x"
                [[input.simulated]]
                name = "a"
                """, file: "t.toml", environment: [:])
        }
    }
}
