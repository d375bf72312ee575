import Foundation
import OutpostCore
import OutpostMQTT
import OutpostTestSupport
import Testing
@testable import OutpostUplinks
@testable import OutpostWire

@Suite("MQTT uplink and the broker's maximum packet size")
struct MQTTUplinkPacketTests {
    @Test("a batch larger than the broker's limit (from its CONNACK) arrives split, every point once, no piece over it")
    func split() async throws {
        let broker = try MosquittoBroker(extraConfig: "max_packet_size 2048")
        let collector = try MosquittoSubscription(broker: broker, topic: "outpost/gw/metrics", hex: true)
        let client = try MQTTClient(broker: MQTTBroker(host: "127.0.0.1", port: broker.port, clientID: "splitter"))
        defer { client.stop() }
        client.start()
        for await event in client.events {
            if case .connected = event { break }
        }
        #expect(client.maximumPacketSize == 2048)
        // Random values do not compress: the gzip payload is about 9 bytes a point.
        let values = (0..<3000).map { _ in Double.random(in: 0..<1000) }
        let batch = try metricsBatch(values)
        #expect(batch.payload.count > 10 * 2048)
        let uplink = MQTTUplink(name: "mqtt", client: client, metricsTopic: "outpost/gw/metrics",
                                eventsTopic: "outpost/gw/events", maxPacketSize: nil)
        #expect(await uplink.deliver(batch) == .delivered)
        let decoder = IncrementalOTLPDecoder()
        try await poll("every piece") {
            pointTimestamps(try decoder.decode(collector.messages.map(\.payload)), metric: "greenhouse.temperature")
                .count >= values.count
        }
        let pieces = collector.messages.map(\.payload)
        #expect(pieces.count > 10)
        #expect(pieces.allSatisfy { $0.count / 2 < 2048 - 100 }, "payload plus headers within the limit")
        let timestamps = pointTimestamps(try decoder.decode(pieces), metric: "greenhouse.temperature")
        #expect(timestamps.count == values.count)
        #expect(Set(timestamps).count == values.count)
    }

    @Test("split pieces are complete requests: resource and scope in each, JSON and logs too")
    func splitterUnits() throws {
        let batch = try metricsBatch((0..<500).map(Double.init), encoding: .json)
        let pieces = try BatchSplitter.pieces(of: batch, limit: batch.payload.count / 3)
        #expect(pieces.count >= 3)
        var points = 0
        for piece in pieces {
            let request = try MetricsRequest(jsonUTF8Bytes: try Gzip.decompress(piece))
            #expect(request.resourceMetrics.allSatisfy { !$0.resource.attributes.isEmpty })
            points += request.pointCount
        }
        #expect(points == 500)
        #expect(throws: BatchSplitter.SplitError.itemTooLarge(limit: 10)) {
            try BatchSplitter.pieces(of: try metricsBatch([1, 2]), limit: 10)
        }
    }
}
