import Foundation
import OutpostTestSupport
import Testing

@Suite("A monthly budget and a night window, as the README sets them, in outpost status", .serialized)
struct MeteredStatusTests {
    @Test("""
        outside the window the metrics wait (the status says until when, in local time); the budget shows what is \
        spent
        """)
    func readmeWalkthrough() async throws {
        let server = try OTLPServer()
        let state = try temporaryStateDirectory()
        // A window that is closed now: two hours from now, for an hour, in the zone the process is given.
        let hour = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "Asia/Kolkata")!,
                                                                    from: Date()).hour!
        let opens = (hour + 2) % 24, closes = (hour + 3) % 24
        let window = String(format: "%02d:00-%02d:00", opens, closes == 0 ? 24 : closes)
        let config = try writeTemporary("metered.toml", """
            [gateway]
            state_dir = "\(state)"
            id = "sim-gw"
            [status]
            interval = "200ms"
            [batch]
            max_age = "200ms"
            [detect]
            enabled = false
            stale_after = 0
            [[uplink.otlp_http]]
            name = "lte"
            endpoint = "\(server.endpoint)"
            monthly_bytes = "100MB"
            billing_day = 15
            sync_windows = ["\(window)"]
            [[input.simulated]]
            name = "tank.level"
            unit = "%"
            interval = "20ms"
            """)
        let process = try OutpostProcess.start(config: config, environment: ["TZ": "Asia/Kolkata"])
        defer { if process.isRunning { process.terminate() } }
        try await poll("metrics waiting in the spool") {
            try OutpostProcess.spooledBatches(config, lane: "metrics") >= 3
        }
        let (code, status, _) = try OutpostProcess.run(["status", "--config", config.path])
        #expect(code == 0)
        #expect(status.contains("metered, "), "\(status)")
        #expect(status.contains("monthly budget 0 B of 100.00 MB spent (renews "), "\(status)")
        #expect(status.contains("sync windows \(window) (Asia/Kolkata): closed, opens "), "\(status)")
        #expect(status.contains(String(format: "T%02d:00:00+05:30", opens)), "local time: \(status)")
        #expect(status.contains("waiting metrics: ") && status.contains("held: outside the sync windows until "),
                "\(status)")
        let (_, json, _) = try OutpostProcess.run(["status", "--config", config.path, "--json"])
        let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let uplink = try #require((document?["uplinks"] as? [[String: Any]])?.first)
        let monthly = (uplink["budgets"] as? [String: Any])?["monthly"] as? [String: Any]
        #expect(monthly?["limit_bytes"] as? Int == 100_000_000)
        #expect(((uplink["sync_windows"] as? [String: Any])?["open"] as? Bool) == false)
        let waiting = (uplink["waiting"] as? [String: Any])?["metrics"] as? [String: Any]
        #expect((waiting?["batches"] as? Int ?? 0) >= 3)
        #expect(try server.received().filter { $0["path"] as? String == "/v1/metrics" }.isEmpty,
                "nothing is sent outside the window")
    }
}
