import OutpostTestSupport
import Testing
@testable import OutpostMQTT

@Suite("MQTT client against a real mosquitto broker", .serialized)
struct MQTTClientTests {
    func connected(_ broker: MosquittoBroker, id: String = "outpost-test",
                   will: MQTTBroker.Will? = nil) async throws -> MQTTClient {
        var settings = MQTTBroker(host: "127.0.0.1", port: broker.port, clientID: id)
        settings.will = will
        let client = try MQTTClient(broker: settings)
        try client.start()
        for await event in client.events {
            if case .connected = event { break }
        }
        return client
    }

    @Test("a QoS 1 publish completes on PUBACK, and a subscriber receives it")
    func publish() async throws {
        let broker = try MosquittoBroker()
        let client = try await connected(broker)
        defer { client.stop() }
        let outcome = await client.publish(topic: "outpost/test/alerts", payload: Array("{\"a\":1}".utf8), retain: true,
                                           contentType: "application/json")
        #expect(outcome == .acknowledged)
        #expect(try broker.receive(topic: "outpost/test/alerts") == ["{\"a\":1}"])
    }

    @Test("publishing while the broker is unreachable fails at once, and the client reconnects when it returns")
    func reconnects() async throws {
        let port = freeLoopbackPort()
        var broker = try MosquittoBroker(port: port)
        let client = try await connected(broker)
        defer { client.stop() }
        broker.stop()
        for await event in client.events {
            if case .disconnected = event { break }
        }
        let offline = await client.publish(topic: "t", payload: [1], timeout: .seconds(2))
        #expect(offline != .acknowledged)
        broker = try MosquittoBroker(port: port)
        for await event in client.events {
            if case .connected = event { break }
        }
        #expect(await client.publish(topic: "t", payload: [2]) == .acknowledged)
        _ = broker
    }

    @Test("the last will is published when the client vanishes")
    func lastWill() async throws {
        let broker = try MosquittoBroker()
        let will = MQTTBroker.Will(topic: "outpost/gw/status", payload: Array("offline".utf8), retain: true)
        let client = try await connected(broker, id: "will-test", will: will)
        #expect(await client.publish(topic: "outpost/gw/status", payload: Array("online".utf8), retain: true)
            == .acknowledged)
        #expect(try broker.receive(topic: "outpost/gw/status") == ["online"])
        client.stopWithoutGoodbyeForTesting()
        #expect(try broker.receive(topic: "outpost/gw/status", timeout: 90) == ["offline"])
    }

    @Test("broker URLs", arguments: [
        ("mqtt://broker.local", "broker.local", 1883, false), ("mqtts://10.0.0.2:8884", "10.0.0.2", 8884, true),
        ("mqtt://127.0.0.1:1883/", "127.0.0.1", 1883, false),
    ])
    func urls(url: String, host: String, port: Int, tls: Bool) throws {
        let broker = try #require(MQTTBroker.parse(url: url, clientID: "x"))
        #expect(broker.host == host && broker.port == port && broker.tls == tls)
    }

    @Test("bad broker URLs are refused", arguments: ["http://x", "mqtt://", "mqtt://h:0", "mqtt://h:x", "broker:1883"])
    func badURLs(url: String) {
        #expect(MQTTBroker.parse(url: url, clientID: "x") == nil)
    }
}
