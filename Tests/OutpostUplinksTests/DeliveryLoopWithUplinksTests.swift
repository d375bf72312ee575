import OutpostCore
import OutpostMQTT
import OutpostTestSupport
import Synchronization
import Testing
@testable import OutpostDelivery
@testable import OutpostSpool
@testable import OutpostUplinks

@Suite("Delivery loop and a real mosquitto broker", .serialized)
struct DeliveryLoopReconnectTests {
    @Test("the shared MQTT client reconnects: a backing-off MQTT uplink delivers at once, not when its backoff ends")
    func mqttReconnectEndsBackoff() async throws {
        let port = freeLoopbackPort()
        var broker = try MosquittoBroker(port: port)
        let client = try MQTTClient(broker: MQTTBroker(host: "127.0.0.1", port: port, clientID: "wake-test"))
        client.start()
        defer { client.stop() }
        for await event in client.events {
            if case .connected = event { break }
        }
        broker.stop()
        for await event in client.events {
            if case .disconnected = event { break }
        }
        let queue = try ScriptedQueue(batches: 1, make: { try metricsBatch([Double($0)]) })
        let uplink = MQTTUplink(name: "mqtt", client: client, metricsTopic: "outpost/gw/metrics",
                                eventsTopic: "outpost/gw/events", maxPacketSize: nil, gzipLevel: 6)
        let harness = LoopHarness(uplink: uplink, queue: queue)
        // Three failed attempts (not connected): the next one is at least 4 s of the loop's clock away, and that
        // clock is not moved again.
        for wait in [1200, 2400, 1000] { try await harness.advance(by: .milliseconds(wait)) }
        try await harness.clock.waitForSleepers(1)
        #expect(queue.remaining == 1)
        broker = try MosquittoBroker(port: port)
        // Marked delivered only on the broker's PUBACK.
        try await waitUntil("the batch is published after the reconnect", timeout: .seconds(60)) {
            queue.remaining == 0
        }
        _ = broker
        await harness.stop()
    }
}

@Suite("Delivery loop and a real OTLP/HTTP receiver", .serialized)
struct DeliveryLoopReceiverTests {
    @Test("503 with Retry-After: 0, three times: retried after about 1, 2 and 4 s, delivered once on the fourth try")
    func retryAfterZeroEndToEnd() async throws {
        let server = try OTLPServer()
        let busy: [String: Any] = ["status": 503, "headers": ["Retry-After": "0"]]
        try server.script([busy, busy, busy])
        let queue = try ScriptedQueue(batches: 1, make: { try metricsBatch([Double($0)]) })
        let harness = LoopHarness(uplink: uplink(server.endpoint), queue: queue)
        for _ in 0..<60 { try await harness.advance(by: .milliseconds(100)) }
        try await harness.clock.waitForSleepers(1)
        #expect(queue.remaining == 1, "6 s in: the 1 + 2 s waits are over, the 4 s one is not")
        for _ in 0..<40 { try await harness.advance(by: .milliseconds(100)) }
        try await waitUntil("delivered") { queue.remaining == 0 }
        #expect(try server.received().count == 1)
        await harness.stop()
    }
}
