import Foundation
import OutpostTestSupport
import Testing

@Suite("Reload with a real mosquitto: an unchanged broker keeps its connection", .serialized)
struct MQTTReloadTests {
    func publish(_ port: Int, _ topic: String, _ payload: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
        process.arguments = ["-h", "127.0.0.1", "-p", String(port), "-q", "1", "-t", topic, "-m", payload]
        try process.run()
        process.waitUntilExit()
    }

    func config(state: String, port: Int, topic: String, extra: Bool, http: Int) -> String {
        """
        [gateway]
        id = "mqtt-reload"
        state_dir = "\(state)"
        [http]
        listen = "127.0.0.1:\(http)"
        [log]
        readings_interval = "0s"
        [status]
        interval = "200ms"
        self_metrics_interval = "0s"
        [mqtt.brokers.local]
        url = "mqtt://127.0.0.1:\(port)"
        [[input.mqtt]]
        name = "zigbee"
        broker = "local"
        topics = ["\(topic)"]
        format = "json"
        \(extra ? "[[input.simulated]]\nname = \"extra\"\ninterval = \"1s\"\n" : "")
        """
    }

    func rewrite(_ file: URL, _ text: String) throws {
        try text.write(to: file, atomically: true, encoding: .utf8)
    }

    func mqttSamples(_ state: String) -> Int {
        let inputs = statusOrEmpty(state + "/status.json")["inputs"] as? [[String: Any]] ?? []
        return inputs.first { $0["name"] as? String == "zigbee" }?["samples"] as? Int ?? 0
    }

    @Test("a new input leaves the broker connected; a changed topic restarts the MQTT input on the same connection (the old filter is dropped); a changed broker reconnects")
    func reloads() async throws {
        let first = try MosquittoBroker(), second = try MosquittoBroker()
        let state = try temporaryStateDirectory(), http = freeLoopbackPort()
        let file = try writeTemporary("mqtt.toml", config(state: state, port: first.port, topic: "a/+", extra: false, http: http))
        let outpost = try ObservedOutpost(config: file)
        try await outpost.waitFor("mqtt broker local: connected to 127.0.0.1:\(first.port)")
        try await settle("readings on a/+") {
            try publish(first.port, "a/porch", #"{"temperature":12.5}"#)
            return mqttSamples(state) >= 1
        }

        try rewrite(file, config(state: state, port: first.port, topic: "a/+", extra: true, http: http))
        outpost.hangUp()
        try await outpost.waitFor("inputs added: simulated extra")

        try rewrite(file, config(state: state, port: first.port, topic: "b/+", extra: true, http: http))
        outpost.hangUp()
        try await outpost.waitFor("inputs restarted: mqtt zigbee")
        #expect(outpost.occurrences("mqtt broker local: connected") == 1, "the connection was kept:\n\(outpost.log)")
        let before = mqttSamples(state)
        try await settle("readings on b/+") {
            try publish(first.port, "b/porch", #"{"temperature":13.0}"#)
            return mqttSamples(state) > before
        }
        // The old filter went with the old input: a message on it, published before a marker on the new one, is
        // not read (the broker delivers one connection's messages in order, so it would have come first).
        try publish(first.port, "a/attic", #"{"temperature":99.0}"#)
        try publish(first.port, "b/porch", #"{"temperature":42.5}"#)
        let scrape = "http://127.0.0.1:\(http)/metrics?series=1"
        try await settle("the marker on b/ read") {
            let latest = try httpGet(scrape).body
            return latest.contains("device=\"porch\"") && latest.contains("} 42.5\n")
        }
        let latest = try await offPool { try httpGet(scrape).body }
        #expect(!latest.contains("device=\"attic\""), "\(latest)")

        try rewrite(file, config(state: state, port: second.port, topic: "b/+", extra: true, http: http))
        outpost.hangUp()
        try await outpost.waitFor("brokers changed: local")
        try await outpost.waitFor("mqtt broker local: connected to 127.0.0.1:\(second.port)")
        let moved = mqttSamples(state)
        try await settle("readings from the new broker") {
            try publish(second.port, "b/porch", #"{"temperature":14.0}"#)
            return mqttSamples(state) > moved
        }
        #expect(!outpost.log.contains("input stopped: simulated extra"), "the simulated input ran throughout")
        #expect(outpost.stop() == 0)
    }
}
