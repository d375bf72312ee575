import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostWire

@Suite("Aggregated batches, decoded by the official schema")
struct AggregateEncodingTests {
    let humidity = Series(name: "greenhouse.humidity", unit: "%", attributes: ["sensor.id": .string("bme-1")])
    let energy = Series(name: "meter.energy", unit: "kW.h", kind: .counter)
    let uptime = Series(name: "outpost.samples.ingested", unit: "{sample}", kind: .counter)

    @Test("summaries (quantile 0 = min, 1 = max, cumulative count and sum), counter sums and plain samples",
          arguments: [OTLPEncoding.protobuf, .json], [false, true])
    func decodes(encoding: OTLPEncoding, zstd: Bool) throws {
        let builder = BatchBuilder(encoder: OTLPEncoder(resource: ["service.name": .string("outpost")]),
                                   format: BatchFormat(encoding: encoding, zstdLevel: zstd ? 3 : nil))
        let start: Int64 = 1_767_225_600_000_000_000, minute: Int64 = 60_000_000_000
        let points: [AggregatePoint] = [
            .summary(IntervalSummary(series: humidity, start: start, time: start + minute, count: 3, sum: 168,
                                     min: 55, max: 57)),
            .summary(IntervalSummary(series: humidity, start: start, time: start + 2 * minute, count: 5, sum: 286,
                                     min: 58, max: 60)),
            .sum(Sample(series: energy, time: start + 50_000_000_000, value: 110), start: start),
            .sample(Sample(series: uptime, time: start + minute, value: 1200)),
        ]
        let batch = try #require(try builder.aggregateBatches(points, now: start + 2 * minute, uplinks: ["lte"]).first)
        #expect(batch.uplinks == ["lte"] && batch.items == 4)
        let decoded = try decodeWithOfficialSchema(batch)
        let metrics = try #require(
            ((decoded["resource_metrics"] as? [[String: Any]])?.first?["scope_metrics"] as? [[String: Any]])?
                .first?["metrics"] as? [[String: Any]])
        #expect(metrics.map { $0["name"] as? String } == ["greenhouse.humidity", "meter.energy",
                                                           "outpost.samples.ingested"])
        let summary = try #require((metrics[0]["summary"] as? [String: Any])?["data_points"] as? [[String: Any]])
        #expect(metrics[0]["unit"] as? String == "%")
        #expect(summary.map { $0["count"] as? String } == ["3", "5"])
        #expect(summary.map { $0["sum"] as? Double } == [168, 286])
        #expect(summary.map { $0["start_time_unix_nano"] as? String } == [String(start), String(start)])
        let quantiles = summary.map { ($0["quantile_values"] as? [[String: Any]] ?? []).map {
            [$0["quantile"] as? Double ?? -1, $0["value"] as? Double ?? -1]
        } }
        // proto3 JSON leaves a 0 quantile out: it is the field's default.
        #expect(quantiles == [[[-1, 55], [1, 57]], [[-1, 58], [1, 60]]])
        #expect(attributes(summary[0]["attributes"]) == ["sensor.id": "bme-1"])
        let sum = try #require(metrics[1]["sum"] as? [String: Any])
        #expect(sum["is_monotonic"] as? Bool == true && sum["aggregation_temporality"] as? Int == 2)
        #expect(((sum["data_points"] as? [[String: Any]])?.first?["as_double"] as? Double) == 110)
        #expect(metrics[2]["sum"] != nil, "a counter sent as it is stays a cumulative sum")
    }
}
