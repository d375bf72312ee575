import Foundation
import OutpostCore
import OutpostMQTT
import OutpostTestSupport
import Testing
@testable import OutpostUplinks
@testable import OutpostWire

private func zstdMetricsBatch(_ values: [Double]) throws -> Batch {
    let builder = BatchBuilder(encoder: OTLPEncoder(resource: ["service.name": .string("outpost")]),
                               format: BatchFormat(zstdLevel: 3))
    let samples = values.enumerated().map {
        Sample(series: temperature, time: 1_000_000_000 + Int64($0.offset) * 1_000_000_000, value: $0.element)
    }
    return try builder.metricsBatches(samples, now: 1_000_000_000) { _ in 0 }[0]
}

/// Every data point's value in decoded metrics requests.
private func pointValues(_ requests: [[String: Any]]) -> [Double] {
    requests.flatMap { request in
        (json(request, "resource_metrics", 0, "scope_metrics", 0, "metrics", 0, "gauge", "data_points")
            as? [[String: Any]] ?? []).compactMap { $0["as_double"] as? Double }
    }
}

@Suite("zstd on the wire, decoded by the reference library in the receiver", .serialized)
struct ZstdUplinkTests {
    @Test("a batch spooled as zstd goes as it is, Content-Encoding: zstd; the receiver's zstandard decodes it")
    func spooledAsZstd() async throws {
        let server = try OTLPServer()
        let batch = try zstdMetricsBatch([21.5, 22.0, 22.0625])
        #expect(batch.contentEncoding == .zstd)
        #expect(Array(batch.payload.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD], "a zstd frame (RFC 8878 §3.1.1)")
        var configuration = OTLPHTTPUplinkConfiguration(metricsURL: server.endpoint + "/v1/metrics",
                                                        logsURL: server.endpoint + "/v1/logs", encoding: .protobuf)
        configuration.gzipLevel = 0
        configuration.zstdLevel = 3
        let result = await OTLPHTTPUplink(configuration: configuration) { _ in }.deliver(batch)
        #expect(result == .delivered)
        let request = try #require(try server.received().first)
        #expect(request["content_encoding"] as? String == "zstd")
        #expect(request["body_bytes"] as? Int == batch.payload.count, "sent as spooled, not re-encoded")
        let points = json(request, "request", "resource_metrics", 0, "scope_metrics", 0, "metrics", 0, "gauge",
                          "data_points") as? [[String: Any]]
        #expect(points?.map { $0["as_double"] as? Double } == [21.5, 22.0, 22.0625])
    }

    @Test("a gzip batch for a receiver set to zstd is re-encoded; a zstd batch for a gzip receiver too")
    func reencoded() async throws {
        let server = try OTLPServer()
        var zstdReceiver = OTLPHTTPUplinkConfiguration(metricsURL: server.endpoint + "/v1/metrics",
                                                       logsURL: server.endpoint + "/v1/logs", encoding: .protobuf)
        zstdReceiver.zstdLevel = 19
        let zstdUplink = OTLPHTTPUplink(configuration: zstdReceiver) { _ in }
        #expect(await zstdUplink.deliver(try metricsBatch([1, 2])) == .delivered)
        #expect(await uplink(server.endpoint).deliver(try zstdMetricsBatch([3, 4])) == .delivered)
        let received = try server.received()
        #expect(received.map { $0["content_encoding"] as? String } == ["zstd", "gzip"])
        let values = received.compactMap {
            (json($0, "request", "resource_metrics", 0, "scope_metrics", 0, "metrics", 0, "gauge", "data_points")
                as? [[String: Any]])?.compactMap { $0["as_double"] as? Double }
        }
        #expect(values == [[1, 2], [3, 4]])
    }

    @Test("over MQTT 5 a zstd batch says so in its content-encoding user property; the payload decodes")
    func mqttUserProperty() async throws {
        let broker = try MosquittoBroker()
        func subscriber(_ extra: [String]) throws -> String {
            let sub = Process()
            sub.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
            sub.arguments = ["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv5", "-c", "-i", "zstd-reader",
                             "-q", "1", "-t", "outpost/gw/metrics", "-F", "%C|%P|%x"] + extra
            let out = Pipe()
            sub.standardOutput = out
            try sub.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            sub.waitUntilExit()
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // A persistent session first, so the broker queues the message for the reader: no race with the publish.
        _ = try subscriber(["-E"])
        var settings = MQTTBroker(host: "127.0.0.1", port: broker.port, clientID: "zstd-writer")
        settings.protocolVersion = .v5
        let client = try MQTTClient(broker: settings)
        client.start()
        defer { client.stop() }
        for await event in client.events {
            if case .connected = event { break }
        }
        let uplink = MQTTUplink(name: "mqtt", client: client, metricsTopic: "outpost/gw/metrics",
                                eventsTopic: "outpost/gw/events", maxPacketSize: nil, gzipLevel: 6)
        let batch = try zstdMetricsBatch([19.5, 19.5625])
        let counted = await uplink.deliverCounting(batch)
        #expect(counted.result == .delivered)
        let line = try subscriber(["-C", "1", "-W", "10"])
        let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        #expect(fields.count == 3)
        #expect(fields[0] == "application/x-protobuf")
        #expect(fields[1].contains("content-encoding:zstd") && fields[1].contains("outpost-batch-id:\(batch.id)"))
        let decoded = try decodeOTLP(hexBatches: [fields[2]], compression: "zstd")
        #expect(pointValues(decoded) == [19.5, 19.5625])
        // PUBLISH: header 1 + remaining length 2, topic 2 + 18, packet id 2, properties length 1 + content type
        // (1 + 2 + 22) + two user properties (1 + 2 + 16 + 2 + 4, 1 + 2 + 16 + 2 + 32), payload; PUBACK 4.
        #expect(counted.wireBytes == MQTTPacketSize.publish(
            topic: "outpost/gw/metrics", payload: batch.payload.count, contentType: "application/x-protobuf",
            userProperties: [("content-encoding", "zstd"), ("outpost-batch-id", batch.id)], version: .v5) + 4)
        #expect(counted.wireBytes == 1 + 2 + 2 + 18 + 2 + 1 + 25 + 25 + 53 + batch.payload.count + 4)
    }

    @Test("zstd round-trips; truncated, garbled or oversized input is refused, never a crash")
    func refusals() throws {
        let text = Array(String(repeating: "greenhouse.temperature 21.0625 Cel\n", count: 400).utf8)
        let compressed = try Zstd.compress(text, level: 3)
        #expect(compressed.count < text.count / 10)
        #expect(try Zstd.decompress(compressed) == text)
        #expect(throws: ZstdError.self) { try Zstd.decompress(Array(compressed.prefix(compressed.count / 2))) }
        #expect(throws: ZstdError.self) { try Zstd.decompress([0x28, 0xB5, 0x2F, 0xFD, 1, 2, 3]) }
        #expect(throws: ZstdError.self) { try Zstd.decompress([]) }
        #expect(throws: ZstdError.self) { try Zstd.decompress(compressed, limit: 1000) }
        #expect(throws: ZstdError.self) { try Zstd.decompress(Array("not zstd at all".utf8)) }
    }
}
