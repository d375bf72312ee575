import Foundation
import OutpostTestSupport
import Testing

@Suite("MQTT sensor input, end to end with a real mosquitto broker", .serialized)
struct MQTTInputEndToEndTests {
    func publish(_ port: Int, _ topic: String, _ payload: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
        process.arguments = ["-h", "127.0.0.1", "-p", String(port), "-q", "1", "-t", topic, "-m", payload]
        try process.run()
        process.waitUntilExit()
    }

    func status(_ config: URL) throws -> [String: Any] {
        let (_, out, _) = try OutpostProcess.run(["status", "--config", config.path, "--json"])
        return (try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]) ?? [:]
    }

    func samples(_ config: URL) throws -> Int {
        ((try status(config)["inputs"] as? [[String: Any]])?.first?["samples"] as? Int) ?? 0
    }

    @Test("readings arrive from Zigbee2MQTT, and the input subscribes again after the broker restarts")
    func resubscribes() async throws {
        let port = freeLoopbackPort()
        var broker = try MosquittoBroker(port: port)
        let config = try writeTemporary("zigbee.toml", """
            [gateway]
            state_dir = "\(try temporaryStateDirectory())"
            [status]
            interval = "100ms"
            [mqtt.brokers.local]
            url = "mqtt://127.0.0.1:\(port)"
            [[input.mqtt]]
            name = "zigbee"
            broker = "local"
            topics = ["zigbee2mqtt/+"]
            preset = "zigbee2mqtt"
            """)
        let outpost = try OutpostProcess.start(config: config)
        defer { if outpost.isRunning { outpost.terminate() } }
        try await poll("the first readings") {
            try publish(port, "zigbee2mqtt/porch", #"{"temperature":12.5,"battery":90}"#)
            return try samples(config) >= 2
        }
        broker.stop()
        broker = try MosquittoBroker(port: port, extraConfig: "")
        let before = try samples(config)
        try await poll("readings after the broker restarted") {
            try publish(port, "zigbee2mqtt/porch", #"{"temperature":12.75,"battery":89}"#)
            return try samples(config) >= before + 2
        }
        _ = broker
    }
}
