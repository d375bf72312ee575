import Foundation
import OutpostTestSupport
import Testing

@Suite("MQTT uplink, end to end with a real mosquitto broker", .serialized)
struct MQTTUplinkTests {
    @Test("spooled batches are published to <prefix>/<gateway>/metrics as gzip OTLP the official schema decodes")
    func metricsDecode() async throws {
        let broker = try MosquittoBroker()
        let config = try writeTemporary("mqtt-uplink.toml", """
            [gateway]
            id = "gw-3"
            state_dir = "\(try temporaryStateDirectory())"
            [batch]
            max_age = "300ms"
            [mqtt.brokers.cloud]
            url = "mqtt://127.0.0.1:\(broker.port)"
            [[uplink.mqtt]]
            broker = "cloud"
            [[input.simulated]]
            name = "tank.level"
            unit = "%"
            interval = "50ms"
            """)
        let subscriber = Task { try broker.receivePayload(topic: "outpost/gw-3/metrics", timeout: 30) }
        let outpost = try OutpostProcess.start(config: config)
        defer { if outpost.isRunning { outpost.terminate() } }
        let payload = try await subscriber.value
        #expect(payload.prefix(2) == Data([0x1F, 0x8B]), "gzip")
        // With no OTLP/HTTP uplink, libcurl and the libraries it pulls in are never mapped (about 3.6 MiB resident).
        let maps = try mappedFiles(pid: outpost.processIdentifier)
        #expect(maps.contains("libmosquitto") && !maps.contains("libcurl"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-\(UUID().uuidString).pb.gz")
        try payload.write(to: file)
        let python = Process()
        python.executableURL = repositoryRoot.appendingPathComponent(".build/otlp-python/bin/python")
        python.arguments = [repositoryRoot.appendingPathComponent("Tests/OutpostWireTests/otlp_decode.py").path,
                            "metrics", "protobuf", "gzip", file.path]
        let out = Pipe()
        python.standardOutput = out
        try python.run()
        let decoded = out.fileHandleForReading.readDataToEndOfFile()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0)
        let request = try JSONSerialization.jsonObject(with: decoded) as? [String: Any]
        let metrics = ((request?["resource_metrics"] as? [[String: Any]])?.first?["scope_metrics"] as? [[String: Any]])?
            .first?["metrics"] as? [[String: Any]]
        #expect(metrics?.contains { $0["name"] as? String == "tank.level" } == true)
    }

    @Test("the broker restarts mid-stream: every replayed reading and the alert arrive, none lost (QoS 1, PUBACK before delete)")
    func brokerRestart() async throws {
        let broker = try MosquittoBroker()
        let start = Self.replayStart
        let rows = 400
        let config = try Self.replayConfig(broker: broker, gateway: "gw-r", rows: rows, spikeAt: 250)
        let alerts = try MosquittoSubscription(broker: broker, topic: "outpost/gw-r/alerts/#", session: "alert-watcher")
        let collector = try MosquittoSubscription(broker: broker, topic: "outpost/gw-r/metrics", session: "collector",
                                                  hex: true)
        let log = PipeText()
        let outpost = try OutpostProcess.start(config: config, errors: log.pipe)
        defer { if outpost.isRunning { outpost.terminate() } }
        try await poll("batches flowing") { collector.messages.count >= 3 }
        // The broker stays down until the uplink has noticed: a restart quicker than the next batch goes unseen.
        broker.halt()
        try await poll("the uplink noticing the outage") { log.text.contains("is failing and backs off") }
        try broker.resume()
        let expected = Set((0..<rows).map { String(UInt64(start + $0) * 1_000_000_000) })
        var seen = Set<String>()
        let decoder = IncrementalOTLPDecoder()
        try await poll("every reading after the restart", timeout: .seconds(90)) {
            seen = Set(pointTimestamps(try decoder.decode(collector.messages.map(\.payload)), metric: "tank.level"))
            return seen.isSuperset(of: expected)
        }
        #expect(seen == expected)
        try await poll("the anomaly alert") {
            alerts.messages.contains { $0.topic == "outpost/gw-r/alerts/warn/tank.level" }
        }
        // The outage itself is news too: the uplink's state change, sent once the broker is back (the alert lane backs
        // off on its own, so it may come after the last reading).
        try await poll("the outage's alert") {
            alerts.messages.contains { $0.topic == "outpost/gw-r/alerts/warn/none"
                && $0.payload.contains("outpost.uplink.state") }
        }
    }

    @Test("an uplink named `alerts.backup` gets the metrics; the alert publisher beside it only the alert documents")
    func namesDoNotRoute() async throws {
        let broker = try MosquittoBroker()
        let config = try Self.replayConfig(broker: broker, gateway: "gw-n", rows: 120, spikeAt: 80,
                                           uplinkName: "alerts.backup")
        let everything = try MosquittoSubscription(broker: broker, topic: "outpost/gw-n/#", hex: true)
        let outpost = try OutpostProcess.start(config: config)
        defer { if outpost.isRunning { outpost.terminate() } }
        let decoder = IncrementalOTLPDecoder()
        try await poll("every reading through `alerts.backup`") {
            let metrics = everything.messages.filter { $0.topic == "outpost/gw-n/metrics" }.map(\.payload)
            return Set(pointTimestamps(try decoder.decode(metrics), metric: "tank.level")).count == 120
        }
        try await poll("the alert document") {
            everything.messages.contains { $0.topic == "outpost/gw-n/alerts/warn/tank.level" }
        }
        // Alert documents are JSON (hex `7b` is `{`); OTLP went to the metrics and events topics, gzip (`1f8b`).
        let alerts = everything.messages.filter { $0.topic.hasPrefix("outpost/gw-n/alerts/") }
        #expect(alerts.allSatisfy { $0.payload.hasPrefix("7b") }, "\(alerts.map(\.topic))")
        #expect(everything.messages.filter { $0.topic.hasSuffix("/metrics") || $0.topic.hasSuffix("/events") }
            .allSatisfy { $0.payload.hasPrefix("1f8b") })
    }

    static let replayStart = 1_772_366_400

    /// A replayed `tank.level` of `rows` seconds from `replayStart` (80 at `spikeAt`, else 20…26), sent through an
    /// MQTT uplink (named `uplinkName` when given) and the alert publisher, both on `broker`.
    static func replayConfig(broker: MosquittoBroker, gateway: String, rows: Int, spikeAt: Int,
                             uplinkName: String? = nil) throws -> URL {
        let values = (0..<rows).map { "\(replayStart + $0),\($0 == spikeAt ? 80 : 20 + $0 % 7)" }
        let csv = try writeTemporary("\(gateway).csv", "timestamp,value\n" + values.joined(separator: "\n") + "\n")
        return try writeTemporary("\(gateway).toml", """
            [gateway]
            id = "\(gateway)"
            state_dir = "\(try temporaryStateDirectory())"
            [batch]
            max_age = "200ms"
            [mqtt.brokers.cloud]
            url = "mqtt://127.0.0.1:\(broker.port)"
            [[uplink.mqtt]]
            \(uplinkName.map { "name = \"\($0)\"" } ?? "")
            broker = "cloud"
            [alerts]
            mqtt_broker = "cloud"
            send_resolved = false
            [[input.replay]]
            path = "\(csv.path)"
            name = "tank.level"
            speed = 80.0
            """)
    }
}
