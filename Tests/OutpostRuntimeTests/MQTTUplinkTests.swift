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
}
