import Foundation
import OutpostTestSupport
import Testing

@Suite("An OTLP receiver outage, end to end")
struct OutageTests {
    /// 800 rows one second apart, a spike at row 100 (inside the outage) and one at row 700 (after it).
    func recording() -> String {
        var lines = ["timestamp,value"]
        for row in 0..<800 {
            let value = row == 100 || row == 700 ? 80.0 : 20 + Double(row % 7) * 0.1
            lines.append("\(1_772_366_400 + row),\(value)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func points(_ request: [String: Any]) -> [String] {
        let metrics = ((request["request"] as? [String: Any])?["resource_metrics"] as? [[String: Any]])?
            .flatMap { ($0["scope_metrics"] as? [[String: Any]]) ?? [] }
            .flatMap { ($0["metrics"] as? [[String: Any]]) ?? [] } ?? []
        return metrics.filter { $0["name"] as? String == "tank.level" }.flatMap { metric in
            (((metric["gauge"] as? [String: Any])?["data_points"] as? [[String: Any]]) ?? [])
                .compactMap { $0["time_unix_nano"] as? String }
        }
    }

    @Test("the receiver is down while samples flow; when it returns every sample arrives, the backlog oldest-first, alerts first, and a new alert is not queued behind the backlog")
    func outage() async throws {
        let port = freeLoopbackPort()
        let csv = try writeTemporary("tank.csv", recording())
        let state = try temporaryStateDirectory()
        let config = try writeTemporary("outage.toml", """
            [gateway]
            state_dir = "\(state)"
            [batch]
            max_age = "200ms"
            [status]
            self_metrics_interval = "0s"
            [detect]
            warmup = 20
            sigma = 6
            [[input.replay]]
            path = "\(csv.path)"
            name = "tank.level"
            speed = 100.0
            [[uplink.otlp_http]]
            endpoint = "http://127.0.0.1:\(port)"
            initial_backoff = "100ms"
            max_backoff = "300ms"
            drain_rate = 2.0
            live_window = "1s"
            """)
        let outpost = try OutpostProcess.start(config: config)
        defer { if outpost.isRunning { outpost.terminate() } }

        // While the receiver is down, batches pile up in the spool (the replay needs 8 s in all).
        try await poll("a backlog in the spool") {
            try OutpostProcess.spooledBatches(config, lane: "metrics") >= 8
        }
        let server = try OTLPServer(port: port)
        let serverStarted = Date()
        try await poll("every sample at the receiver", timeout: .seconds(90)) {
            try server.received().reduce(0) { $0 + points($1).count } >= 800
        }
        let received = try server.received()
        // libcurl is loaded on first use, by the OTLP/HTTP uplink.
        #expect(try mappedFiles(pid: outpost.processIdentifier)
            .contains("libcurl"))
        let all = received.flatMap(points)
        #expect(Set(all).count == 800, "every sample arrived")
        #expect(all.count == 800, "none twice")

        // Alerts first: the first request after the outage carries the alert raised during it.
        #expect(received.first?["path"] as? String == "/v1/logs")
        // Live batches go first; the backlog (older than the first batch sent) drains oldest-first beside them.
        let metricRequests = received.filter { $0["path"] as? String == "/v1/metrics" }
        let firstPoints = metricRequests.compactMap { points($0).compactMap { UInt64($0) }.min() }
        let firstSent = firstPoints.first ?? 0
        let backlog = firstPoints.filter { $0 < firstSent }
        let live = firstPoints.filter { $0 >= firstSent }
        // A loaded machine may reach this point after the replay has ended: then everything is backlog, oldest-first.
        #expect(!backlog.isEmpty || firstPoints == firstPoints.sorted(), "a backlog behind the live data, or all backlog")
        #expect(backlog == backlog.sorted(), "backlog oldest-first")
        #expect(live == live.sorted(), "live data in order")
        // The alert raised after the receiver returned arrived while the backlog was still draining.
        let logTimes = received.filter { $0["path"] as? String == "/v1/logs" }.compactMap { $0["time"] as? Double }
        let lastMetric = metricRequests.compactMap { $0["time"] as? Double }.max() ?? 0
        #expect(logTimes.count >= 2)
        if logTimes.count >= 2 {
            #expect(logTimes[1] < lastMetric, "the new alert did not wait for the backlog")
            #expect(logTimes[1] - serverStarted.timeIntervalSince1970 < 10)
        }
        outpost.terminate()
        outpost.waitUntilExit()
        #expect(outpost.terminationStatus == 0)
    }
}
