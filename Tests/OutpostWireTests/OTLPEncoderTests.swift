import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostWire

/// Decodes `batch` with the official opentelemetry-proto Python package and returns its JSON as a dictionary.
func decodeWithOfficialSchema(_ batch: Batch) throws -> [String: Any] {
    let python = repositoryRoot.appendingPathComponent(".build/otlp-python/bin/python").path
    guard FileManager.default.isExecutableFile(atPath: python) else {
        throw DecodeError(message: "\(python) is missing: run Scripts/install-deps (the README's test command does)")
    }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("batch-\(UUID().uuidString)")
    try Data(batch.payload).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    let encoding = batch.contentType == "application/json" ? "json" : "protobuf"
    process.arguments = [repositoryRoot.appendingPathComponent("Tests/OutpostWireTests/otlp_decode.py").path,
                         batch.signal.rawValue, encoding, batch.contentEncoding.rawValue, file.path]
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw DecodeError(message: "the official decoder failed: \(errors)") }
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

struct DecodeError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// `[{key, value: {string_value|int_value|...}}]` as a flat dictionary.
func attributes(_ list: Any?) -> [String: String] {
    var result: [String: String] = [:]
    for item in list as? [[String: Any]] ?? [] {
        let value = item["value"] as? [String: Any] ?? [:]
        result[item["key"] as! String] = value.values.first.map { "\($0)" } ?? ""
    }
    return result
}

@Suite("OTLP encoding, decoded by the official schema")
struct OTLPEncoderTests {
    let resource: Attributes = ["service.name": .string("outpost"), "outpost.gateway.id": .string("gw-7"),
                                "site": .string("north")]
    let temperature = Series(name: "greenhouse.temperature", unit: "Cel",
                             attributes: ["sensor.id": .string("28-01"), "location": .string("bed-1")])
    let received = Series(name: "system.network.io", unit: "By", kind: .counter,
                          attributes: ["network.interface.name": .string("eth0"),
                                       "network.io.direction": .string("receive")])

    func builder(_ encoding: OTLPEncoding, gzip: Int32 = 6, maxBytes: Int = 1 << 20) -> BatchBuilder {
        BatchBuilder(encoder: OTLPEncoder(resource: resource),
                     format: BatchFormat(encoding: encoding, gzipLevel: gzip, maxBytes: maxBytes))
    }

    @Test("metrics: gauges and cumulative sums, resource and scope, every field", arguments: OTLPEncoding.allCases)
    func metrics(encoding: OTLPEncoding) throws {
        let samples = [
            Sample(series: temperature, time: 1_000_000_000, value: 21.5),
            Sample(series: received, time: 1_000_000_000, value: 1_000_000),
            Sample(series: temperature, time: 2_000_000_000, value: 21.75),
        ]
        let batches = try builder(encoding).metricsBatches(samples, now: 3_000_000_000) { _ in 500_000_000 }
        let batch = try #require(batches.first)
        #expect(batches.count == 1)
        #expect(batch.items == 3)
        #expect(batch.contentType == encoding.contentType)
        #expect(batch.contentEncoding == .gzip)
        let decoded = try decodeWithOfficialSchema(batch)
        let resourceMetrics = try #require((decoded["resource_metrics"] as? [[String: Any]])?.first)
        let resourceAttributes = attributes((resourceMetrics["resource"] as? [String: Any])?["attributes"])
        #expect(resourceAttributes == ["service.name": "outpost", "outpost.gateway.id": "gw-7", "site": "north"])
        let scopeMetrics = try #require((resourceMetrics["scope_metrics"] as? [[String: Any]])?.first)
        let scope = try #require(scopeMetrics["scope"] as? [String: Any])
        #expect(scope["name"] as? String == "outpost")
        #expect(attributes(scope["attributes"])["outpost.batch.id"] == batch.id)
        let metrics = try #require(scopeMetrics["metrics"] as? [[String: Any]])
        #expect(metrics.map { $0["name"] as? String } == ["greenhouse.temperature", "system.network.io"])
        #expect(metrics[0]["unit"] as? String == "Cel")
        let gaugePoints = try #require((metrics[0]["gauge"] as? [String: Any])?["data_points"] as? [[String: Any]])
        #expect(gaugePoints.map { $0["as_double"] as? Double } == [21.5, 21.75])
        #expect(gaugePoints.map { $0["time_unix_nano"] as? String } == ["1000000000", "2000000000"])
        #expect(attributes(gaugePoints[0]["attributes"]) == ["sensor.id": "28-01", "location": "bed-1"])
        let sum = try #require(metrics[1]["sum"] as? [String: Any])
        #expect(sum["aggregation_temporality"] as? Int == 2, "AGGREGATION_TEMPORALITY_CUMULATIVE")
        #expect(sum["is_monotonic"] as? Bool == true)
        let sumPoint = try #require((sum["data_points"] as? [[String: Any]])?.first)
        #expect(sumPoint["as_double"] as? Double == 1_000_000)
        #expect(sumPoint["start_time_unix_nano"] as? String == "500000000")
    }

    @Test("events: LogRecords with event_name, severity, body and attributes", arguments: OTLPEncoding.allCases)
    func logs(encoding: OTLPEncoding) throws {
        let event = Event(name: .anomalyRaised, severity: .warn, time: 7_000_000_000, series: temperature,
                          message: "greenhouse.temperature = 30 Cel is 9 sigma above its mean 21",
                          attributes: ["outpost.z": .double(9), "outpost.sigma": .double(3)])
        let fault = Event(name: .sensorFault, severity: .error, time: 8_000_000_000, series: nil, message: "CRC failed")
        let batch = try #require(try builder(encoding).logsBatches([event, fault], lane: .alerts, now: 9).first)
        #expect(batch.lane == .alerts)
        let decoded = try decodeWithOfficialSchema(batch)
        let scopeLogs = try #require(((decoded["resource_logs"] as? [[String: Any]])?.first?["scope_logs"]
            as? [[String: Any]])?.first)
        let records = try #require(scopeLogs["log_records"] as? [[String: Any]])
        #expect(records.count == 2)
        #expect(records[0]["event_name"] as? String == "outpost.anomaly.raised")
        #expect(records[0]["severity_number"] as? Int == 13)
        #expect(records[0]["severity_text"] as? String == "WARN")
        #expect(records[0]["time_unix_nano"] as? String == "7000000000")
        #expect((records[0]["body"] as? [String: Any])?["string_value"] as? String == event.message)
        let recordAttributes = attributes(records[0]["attributes"])
        #expect(recordAttributes["sensor.id"] == "28-01")
        #expect(recordAttributes["outpost.z"] == "9.0")
        #expect(records[1]["severity_number"] as? Int == 17)
        #expect(records[1]["event_name"] as? String == "outpost.sensor.fault")
    }

    @Test("a batch over max_bytes is split in parts that each fit, losing nothing")
    func splitsLargeBatches() throws {
        let samples = (0..<2000).map { Sample(series: temperature, time: Int64($0) * 1_000_000_000, value: Double($0)) }
        let batches = try builder(.protobuf, gzip: 0, maxBytes: 16 * 1024).metricsBatches(samples, now: 0) { _ in 0 }
        #expect(batches.count > 1)
        #expect(batches.allSatisfy { $0.uncompressedBytes <= 16 * 1024 })
        #expect(batches.reduce(0) { $0 + $1.items } == 2000)
        #expect(Set(batches.map(\.id)).count == batches.count, "each part has its own batch id")
        #expect(batches.allSatisfy { $0.contentEncoding == .identity })
        var values: [Double] = []
        for batch in batches {
            let decoded = try decodeWithOfficialSchema(batch)
            let metrics = ((decoded["resource_metrics"] as? [[String: Any]])?.first?["scope_metrics"]
                as? [[String: Any]])?.first?["metrics"] as? [[String: Any]] ?? []
            let points = (metrics.first?["gauge"] as? [String: Any])?["data_points"] as? [[String: Any]] ?? []
            values += points.compactMap { $0["as_double"] as? Double }
        }
        #expect(values == (0..<2000).map(Double.init), "every point once, in order")
    }
}

@Suite("gzip")
struct GzipTests {
    @Test("round trip, and the output is real gzip (RFC 1952 magic bytes)")
    func roundTrip() throws {
        let text = Array(String(repeating: "outpost gzip round trip ", count: 1000).utf8)
        let compressed = try Gzip.compress(text, level: 6)
        #expect(compressed.prefix(2) == [0x1F, 0x8B])
        #expect(compressed.count < text.count / 10)
        #expect(try Gzip.decompress(compressed) == text)
    }

    @Test("corrupt or truncated input is an error, and a size limit is enforced")
    func rejectsBadInput() throws {
        let compressed = try Gzip.compress(Array(repeating: 0, count: 100_000))
        #expect(throws: GzipError.self) { try Gzip.decompress(Array(compressed.prefix(compressed.count / 2))) }
        #expect(throws: GzipError.self) { try Gzip.decompress([0x1F, 0x8B, 1, 2, 3]) }
        #expect(throws: GzipError.self) { try Gzip.decompress(compressed, limit: 1000) }
    }
}
