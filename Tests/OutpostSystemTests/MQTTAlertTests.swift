import Foundation
import OutpostTestSupport
import Testing

@Suite("MQTT alerts, end to end with a real mosquitto broker", .serialized)
struct MQTTAlertTests {
    func recording(spikeAt row: Int) -> String {
        var lines = ["timestamp,value"]
        for index in 0..<200 { lines.append("\(1_772_366_400 + index),\(index == row ? 80.0 : 20 + Double(index % 5) * 0.1)") }
        return lines.joined(separator: "\n") + "\n"
    }

    func config(port: Int, csv: URL, state: String) throws -> URL {
        try writeTemporary("mqtt.toml", """
            [gateway]
            id = "gw-9"
            state_dir = "\(state)"
            [mqtt.brokers.local]
            url = "mqtt://127.0.0.1:\(port)"
            [alerts]
            mqtt_broker = "local"
            send_resolved = false
            [detect]
            warmup = 20
            sigma = 6
            [[input.replay]]
            path = "\(csv.path)"
            name = "tank.level"
            unit = "%"
            speed = 100.0
            """)
    }

    @Test("an alert is one JSON message on {prefix}/{gateway}/alerts/{severity}/{series}; the gateway announces itself")
    func alertArrives() async throws {
        let broker = try MosquittoBroker()
        let csv = try writeTemporary("tank.csv", recording(spikeAt: 150))
        let config = try config(port: broker.port, csv: csv, state: try temporaryStateDirectory())
        let subscription = try MosquittoSubscription(broker: broker, topic: "outpost/gw-9/#")
        let outpost = try OutpostProcess.start(config: config)
        defer { if outpost.isRunning { outpost.terminate() } }
        try await poll("the alert on its topic") {
            subscription.messages.contains { $0.topic == "outpost/gw-9/alerts/warn/tank.level" }
        }
        let alert = try #require(subscription.messages.first { $0.topic.hasPrefix("outpost/gw-9/alerts/") }?.payload)
        let json = try JSONSerialization.jsonObject(with: Data(alert.utf8)) as? [String: Any]
        #expect(json?["event"] as? String == "outpost.anomaly.raised")
        #expect(json?["series"] as? String == "tank.level")
        #expect(json?["gateway"] as? String == "gw-9")
        #expect(try broker.receive(topic: "outpost/gw-9/status", timeout: 5) == ["online"], "retained")
    }

    @Test("with the broker down, the alert waits in the spool, survives an Outpost restart, and is sent when the broker is back")
    func alertWaits() async throws {
        let port = freeLoopbackPort()
        let csv = try writeTemporary("tank.csv", recording(spikeAt: 100))
        let state = try temporaryStateDirectory()
        let config = try config(port: port, csv: csv, state: state)
        let first = try OutpostProcess.start(config: config)
        try await poll("the alert document waiting in the spool's alerts lane") {
            let (_, out, _) = try OutpostProcess.run(["spool", "inspect", "--config", config.path, "--limit", "50"])
            return out.contains("\"signal\":\"alert\"") && out.contains("tank.level")
        }
        first.terminate()
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)

        let broker = try MosquittoBroker(port: port)
        let subscription = try MosquittoSubscription(broker: broker, topic: "outpost/gw-9/alerts/warn/tank.level")
        let second = try OutpostProcess.start(config: config)
        defer { if second.isRunning { second.terminate() } }
        try await poll("the waiting alert") { !subscription.messages.isEmpty }
        let json = try JSONSerialization.jsonObject(with: Data((subscription.messages.first?.payload ?? "").utf8))
            as? [String: Any]
        #expect(json?["event"] as? String == "outpost.anomaly.raised")
        #expect(json?["time"] as? String == "2026-03-01T12:01:40.000Z", "the alert raised while the broker was down")
    }
}
