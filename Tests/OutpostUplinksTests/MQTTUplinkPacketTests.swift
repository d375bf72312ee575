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
                                eventsTopic: "outpost/gw/events", maxPacketSize: nil, gzipLevel: 1)
        #expect(await uplink.deliver(batch) == .delivered)
        let decoder = IncrementalOTLPDecoder()
        try await poll("every piece") {
            pointTimestamps(try decoder.decode(collector.messages.map(\.payload)), metric: "greenhouse.temperature")
                .count >= values.count
        }
        let pieces = collector.messages.map(\.payload)
        #expect(pieces.count > 10)
        #expect(pieces.allSatisfy { $0.count / 2 < 2048 - 100 }, "payload plus headers within the limit")
        // Hex digits 16 and 17 are the gzip header's XFL byte: zlib writes 4 for level 1 (fastest).
        #expect(pieces.allSatisfy { Array($0)[16..<18] == ["0", "4"] }, "gzipped at [batch] gzip_level = 1")
        let timestamps = pointTimestamps(try decoder.decode(pieces), metric: "greenhouse.temperature")
        #expect(timestamps.count == values.count)
        #expect(Set(timestamps).count == values.count)
    }

    @Test("split pieces are complete requests: resource and scope in each, JSON and logs too")
    func splitterUnits() throws {
        let batch = try metricsBatch((0..<500).map(Double.init), encoding: .json)
        let pieces = try MQTTUplink.pieces(of: batch, limit: batch.payload.count / 3, gzipLevel: 6).pieces
        #expect(pieces.count >= 3)
        var points = 0
        for piece in pieces {
            let request = try MetricsRequest(jsonUTF8Bytes: try Gzip.decompress(piece.bytes))
            #expect(request.resourceMetrics.allSatisfy { !$0.resource.attributes.isEmpty })
            let scopeIDs = request.resourceMetrics.flatMap(\.scopeMetrics)
                .flatMap { $0.scope.attributes.filter { $0.key == "outpost.batch.id" }.map(\.value.stringValue) }
            #expect(scopeIDs == [piece.batchID], "the id inside the piece is the one beside it")
            #expect(piece.batchID == "\(batch.id)#\(points)-\(points + request.pointCount)")
            points += request.pointCount
        }
        #expect(points == 500)
        #expect(Set(pieces.map(\.batchID)).count == pieces.count, "a backend dropping repeats by id keeps every piece")
        #expect(try MQTTUplink.pieces(of: batch, limit: batch.payload.count / 3, gzipLevel: 6).pieces == pieces,
                "a re-send splits the same way, under the same ids")
        let events = try alertBatch("spike")
        let logPieces = try OTLPPayload(events).pieces(limit: 1 << 20, as: .json, gzipLevel: 0, batchID: events.id)
            .pieces
        #expect(try logPieces.map { try OTLPPayload.logs(LogsRequest(jsonUTF8Bytes: $0.bytes)) }
            == [OTLPPayload(events)])
        #expect(logPieces.map(\.batchID) == [events.id], "a request that fits keeps the batch's id")
        let nothingFits = try MQTTUplink.pieces(of: try metricsBatch([1, 2]), limit: 10, gzipLevel: 6)
        #expect(nothingFits.pieces.isEmpty)
        #expect(nothingFits.dropped.map(\.index) == [0, 1], "items larger than the limit alone are dropped, named")
    }

    @Test("a split batch's pieces are gzipped at [batch] gzip_level and decode to exactly the original points")
    func piecesFollowTheGzipLevel() throws {
        let values = (0..<2000).map { Double($0 % 97) / 4 }
        let batch = try metricsBatch(values)
        let original = try points(of: [Gzip.decompress(batch.payload)])
        #expect(original.map(\.value) == values)
        let limit = batch.payload.count / 4
        let fastest = try MQTTUplink.pieces(of: batch, limit: limit, gzipLevel: 1).pieces
        let smallest = try MQTTUplink.pieces(of: batch, limit: limit, gzipLevel: 9).pieces
        #expect(fastest.count > 1 && smallest.count > 1)
        // The gzip header's XFL byte (RFC 1952 §2.3.1): zlib writes 4 for level 1, 2 for level 9, 0 otherwise.
        #expect(fastest.allSatisfy { $0.bytes[8] == 4 })
        #expect(smallest.allSatisfy { $0.bytes[8] == 2 })
        #expect(fastest.reduce(0) { $0 + $1.bytes.count } > smallest.reduce(0) { $0 + $1.bytes.count })
        #expect(try points(of: fastest.map { try Gzip.decompress($0.bytes) }) == original)
        #expect(try points(of: smallest.map { try Gzip.decompress($0.bytes) }) == original)
    }

    @Test("one point larger than the broker's limit is dropped and named; every healthy point of its batch arrives")
    func oversizedItem() async throws {
        let broker = try MosquittoBroker(extraConfig: "max_packet_size 2048")
        let collector = try MosquittoSubscription(broker: broker, topic: "outpost/gw/metrics", hex: true)
        let client = try await connectedClient(port: broker.port, id: "oversize")
        defer { client.stop() }
        let builder = BatchBuilder(encoder: OTLPEncoder(resource: ["service.name": .string("outpost")]),
                                   format: BatchFormat())
        let noise = (0..<4000).map { _ in UInt8.random(in: 65...90) }
        let big = Series(name: "c.big", unit: "1", kind: .gauge,
                         attributes: ["note": .string(String(decoding: noise, as: UTF8.self))])
        var samples = (0..<600).map { Sample(series: temperature, time: 1_000_000_000 + Int64($0) * 1_000_000,
                                             value: Double.random(in: 0..<100)) }
        samples.insert(Sample(series: big, time: 1_000_000_000, value: 1), at: 300)
        let batch = try builder.metricsBatches(samples, now: 1_000_000_000) { _ in 0 }[0]
        let uplink = MQTTUplink(name: "mqtt", client: client, metricsTopic: "outpost/gw/metrics",
                                eventsTopic: "outpost/gw/events", maxPacketSize: nil, gzipLevel: 6)
        let result = await uplink.deliver(batch)
        guard case .partiallyDelivered(let items, let bytes, let reason) = result else {
            Issue.record("expected the big point dropped and the rest delivered, got \(result)")
            return
        }
        #expect(items == 1)
        #expect(bytes > 2048)
        #expect(reason.contains("data point of `c.big`") && reason.contains("maximum packet size"), "\(reason)")
        let decoder = IncrementalOTLPDecoder()
        try await poll("every healthy point") {
            pointTimestamps(try decoder.decode(collector.messages.map(\.payload)), metric: "greenhouse.temperature")
                .count >= 600
        }
        #expect(pointTimestamps(try decoder.decode(collector.messages.map(\.payload)), metric: "c.big").isEmpty)
    }

    @Test("an alert larger than the broker's limit is dropped with its reason at once; the alert behind it goes")
    func oversizedAlert() async throws {
        let broker = try MosquittoBroker(extraConfig: "max_packet_size 2048")
        let alerts = try MosquittoSubscription(broker: broker, topic: "outpost/gw/alerts/#")
        let client = try await connectedClient(port: broker.port, id: "alerts")
        defer { client.stop() }
        let publisher = MQTTAlertPublisher(client: client)
        func alert(_ text: String) -> Batch {
            Batch(id: UUID().uuidString, lane: .alerts, signal: .alert, format: .alertJSON, contentEncoding: .identity,
                  created: 0, items: 1, uncompressedBytes: text.utf8.count, payload: Array(text.utf8),
                  routing: "outpost/gw/alerts/warn/x")
        }
        let huge = alert(#"{"message":"\#(String(repeating: "x", count: 6000))"}"#)
        guard case .rejected(let reason) = await publisher.deliver(huge) else {
            Issue.record("an alert that can never fit must not be retried")
            return
        }
        #expect(reason.contains("more than the broker's maximum packet size of 2048 bytes"), "\(reason)")
        #expect(await publisher.deliver(alert(#"{"message":"small"}"#)) == .delivered)
        try await poll("the small alert") { alerts.messages.contains { $0.payload.contains("small") } }
    }

    @Test("an alert about a series a device named goes out on a valid topic: wildcards, NUL, control characters")
    func deviceMadeTopic() async throws {
        let broker = try MosquittoBroker()
        let alerts = try MosquittoSubscription(broker: broker, topic: "outpost/gw/alerts/#")
        let client = try await connectedClient(port: broker.port, id: "topics")
        defer { client.stop() }
        let series = Series(name: "zigbee.a+b#c\u{7}d\ne/" + String(repeating: "x", count: 70_000) + "\u{0}f",
                            unit: "")
        let event = Event(name: .thresholdCrossed, severity: .warn, time: 1, series: series, message: "m")
        let topic = AlertTopic(template: "{prefix}/{gateway}/alerts/{severity}/{series}", prefix: "outpost",
                               gateway: "gw").topic(for: event)
        #expect(topic.utf8.count <= 65535)
        #expect(topic.hasPrefix("outpost/gw/alerts/warn/zigbee.a_b_c_d_e/"))
        #expect(await client.publish(topic: topic, payload: Array("{}".utf8)) == .acknowledged)
        try await poll("the alert") { alerts.messages.count == 1 }
    }

    private func connectedClient(port: Int, id: String) async throws -> MQTTClient {
        let client = try MQTTClient(broker: MQTTBroker(host: "127.0.0.1", port: port, clientID: id))
        client.start()
        for await event in client.events {
            if case .connected = event { break }
        }
        return client
    }

    private struct Point: Equatable {
        let time: UInt64
        let value: Double
    }

    /// Every data point of protobuf metrics requests, in order.
    private func points(of requests: [[UInt8]]) throws -> [Point] {
        try requests.flatMap { bytes in
            try MetricsRequest(serializedBytes: bytes).resourceMetrics.flatMap(\.scopeMetrics).flatMap(\.metrics)
                .flatMap(\.gauge.dataPoints).map { Point(time: $0.timeUnixNano, value: $0.asDouble) }
        }
    }
}
