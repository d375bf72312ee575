import OutpostCore
import OutpostTestSupport
import OutpostWire
import Synchronization
import Testing
@testable import OutpostBatch

private let minute: Int64 = 60_000_000_000
private let start: Int64 = 1_767_225_600_000_000_000  // 2026-01-01 00:00 UTC, a whole minute

@Suite("Report-on-change: deadband and heartbeat")
struct ChangeFilterTests {
    let probe = Series(name: "greenhouse.soil.temperature", unit: "Cel")

    func sent(_ values: [Double], rule: ChangeRule, every step: Int64 = minute) -> [Double] {
        var filter = ChangeFilter()
        return values.enumerated().compactMap { index, value in
            filter.admit(probe, values: [value], time: start + Int64(index) * step, rule: rule) ? value : nil
        }
    }

    @Test("a DS18B20 stepping 0.0625 °C with deadband 0.0625: each step is sent, repeats are not")
    func oneStep() {
        let rule = ChangeRule(deadband: .absolute(0.0625), maxSilence: .seconds(3600))
        #expect(sent([21.0, 21.0, 21.0625, 21.0625, 21.0, 21.0, 21.0], rule: rule) == [21.0, 21.0625, 21.0])
        let wider = ChangeRule(deadband: .absolute(0.125), maxSilence: .seconds(3600))
        #expect(sent([21.0, 21.0625, 21.125, 21.0625, 21.0], rule: wider) == [21.0, 21.125, 21.0])
    }

    @Test("deadband 0 sends any change; a percentage is of the last value sent")
    func zeroAndPercent() {
        let any = ChangeRule(deadband: .absolute(0), maxSilence: .seconds(3600))
        #expect(sent([55, 55, 56, 56, 55], rule: any) == [55, 56, 55])
        let twoPercent = ChangeRule(deadband: .percent(2), maxSilence: .seconds(3600))
        #expect(sent([100, 101, 101.9, 102, 104, 104.1, 103], rule: twoPercent) == [100, 102, 104.1])
    }

    @Test("a flat series is still sent every max_silence, so a backend tells it from a dead one")
    func heartbeat() {
        let rule = ChangeRule(deadband: .absolute(1), maxSilence: .seconds(15 * 60))
        #expect(sent(Array(repeating: 55, count: 46), rule: rule).count == 4, "minutes 0, 15, 30 and 45")
    }
}

@Suite("Aggregation: one point per series and interval")
struct IntervalAggregatorTests {
    let humidity = Series(name: "greenhouse.humidity", unit: "%")
    let energy = Series(name: "meter.energy", unit: "kW.h", kind: .counter)

    func summaries(_ closed: [IntervalAggregator.Closed]) -> [IntervalSummary] {
        closed.compactMap { if case .summary(let summary) = $0.point { summary } else { nil } }
    }

    @Test("a gauge's interval: its minimum and maximum, and the count and sum since the series began")
    func gauge() {
        var aggregator = IntervalAggregator(interval: .seconds(60))
        var closed: [IntervalAggregator.Closed] = []
        for (second, value) in [(0, 55.0), (20, 57.0), (40, 56.0), (60, 60.0), (80, 58.0), (120, 59.0)] {
            let sample = Sample(series: humidity, time: start + Int64(second) * 1_000_000_000, value: value)
            closed += aggregator.add(sample)
        }
        let points = summaries(closed)
        #expect(points.map(\.time) == [start + minute, start + 2 * minute])
        #expect(points.map(\.min) == [55, 58] && points.map(\.max) == [57, 60])
        #expect(points.map(\.count) == [3, 5] && points.map(\.sum) == [168, 286], "cumulative")
        #expect(points.allSatisfy { $0.start == start })
        #expect(closed.first?.values == [55, 57, 56], "min, max and the interval's own mean")
    }

    @Test("an interval closes a grace period after its end on the samples' clock, even when its series goes quiet")
    func closesOnTheTick() {
        var aggregator = IntervalAggregator(interval: .seconds(60))
        let seen: Int64 = 7_000_000_000  // monotonic: whatever the wall clock says
        #expect(aggregator.add(Sample(series: humidity, time: start + 59_900_000_000, value: 50), at: seen).isEmpty)
        #expect(aggregator.close(at: seen + 5_000_000_000).isEmpty, "5 s of grace after 60 s, 0.1 s after the sample")
        #expect(aggregator.close(at: seen + 5_100_000_000).count == 1)
        #expect(aggregator.close(at: seen + 600_000_000_000).isEmpty)
    }

    @Test("a replay of last week closes its intervals as its samples go by, not all at once by the wall clock")
    func replayedTimes() {
        var aggregator = IntervalAggregator(interval: .seconds(60))
        let lastWeek = start - 7 * 1440 * minute
        var closed = 0
        for index in 0..<10 {
            closed += aggregator.add(Sample(series: humidity, time: lastWeek + Int64(index) * minute, value: 50),
                                     at: Int64(index) * 10_000_000).count
            closed += aggregator.close(at: Int64(index) * 10_000_000).count
        }
        #expect(closed == 9, "one per minute of the recording, the last still open")
    }

    @Test("a counter sends its last value per interval; a reset closes the interval and starts anew after it")
    func counter() {
        var aggregator = IntervalAggregator(interval: .seconds(60))
        var closed: [IntervalAggregator.Closed] = []
        for (second, value) in [(0, 100.0), (30, 105.0), (50, 110.0), (70, 3.0), (90, 5.0)] {
            closed += aggregator.add(Sample(series: energy, time: start + Int64(second) * 1_000_000_000, value: value))
        }
        closed += aggregator.close(at: start + 10 * minute)
        let sums = closed.compactMap { closed -> (Double, Int64)? in
            if case .sum(let sample, let since) = closed.point { (sample.value, since) } else { nil }
        }
        #expect(sums.map(\.0) == [110, 5])
        #expect(sums.map(\.1) == [start, start + 50_000_000_001])
    }
}

/// Batches the batcher hands on, collected.
private final class Collected: BatchSink, Sendable {
    private let batches = Mutex<[Batch]>([])

    func write(_ written: [Batch]) async {
        batches.withLock { $0 += written }
    }

    var all: [Batch] { batches.withLock { $0 } }
}

private func points(_ batch: Batch) throws -> [Opentelemetry_Proto_Metrics_V1_Metric] {
    guard case .metrics(let request) = try OTLPPayload(batch) else { return [] }
    return request.resourceMetrics.flatMap(\.scopeMetrics).flatMap(\.metrics)
}

@Suite("The batcher sends fewer samples upstream: on change, and aggregated for metered uplinks")
struct BatcherReductionTests {
    let probe = Series(name: "greenhouse.soil.temperature", unit: "Cel")

    /// Runs a batcher with `reduction`, feeds it one sample a minute for `minutes`, and stops it (a stop flushes).
    func run(_ reduction: Reduction, values: [Double]) async throws -> [Batch] {
        let clock = ManualClock(), wall = ManualWallClock(start: start)
        let sink = Collected()
        var configuration = BatchConfiguration()
        configuration.maxAge = .seconds(3600)
        let batcher = BatcherService(configuration: configuration, resource: Attributes(), sink: sink,
                                     reduction: reduction, clock: clock, wallClock: wall, logger: quietLogger)
        let running = Task { try await batcher.run() }
        for (index, value) in values.enumerated() {
            await batcher.accept([Sample(series: probe, time: start + Int64(index) * minute, value: value)])
        }
        running.cancel()
        try? await running.value
        return sink.all
    }

    @Test("report-on-change: the full-resolution batch holds only the samples that moved past the deadband")
    func onChange() async throws {
        let rule = ChangeRule(deadband: .absolute(0.0625), maxSilence: .seconds(3600))
        let batches = try await run(Reduction(rule: { _ in rule }, reportsOnChange: true),
                                    values: [21, 21, 21, 21.0625, 21.0625, 21, 21])
        let values = try batches.flatMap(points).flatMap(\.gauge.dataPoints).map(\.asDouble)
        #expect(values == [21, 21.0625, 21])
        #expect(batches.allSatisfy { $0.uplinks == nil }, "no uplink aggregates: the batch is for every uplink")
    }

    @Test("a metered uplink with aggregate = 1m gets summaries, the other uplink every sample; unmetered, both samples")
    func aggregatedForMetered() async throws {
        let metered = Mutex(true)
        let reduction = Reduction(aggregating: ["lte": .seconds(60)], metricsUplinks: ["lte", "eth"],
                                  isMetered: { _ in metered.withLock { $0 } })
        let values = (0..<6).map { 20 + Double($0 % 3) * 0.5 }
        var batches = try await run(reduction, values: (0..<12).flatMap { _ in values.prefix(1) } + values)
        let full = batches.filter { $0.uplinks == ["eth"] }
        let aggregated = batches.filter { $0.uplinks == ["lte"] }
        #expect(full.count == 1 && aggregated.count == 1)
        #expect(try full.flatMap(points).flatMap(\.gauge.dataPoints).count == 18)
        let summaries = try aggregated.flatMap(points).flatMap(\.summary.dataPoints)
        #expect(summaries.count == 18, "one per minute: the samples are a minute apart")
        #expect(summaries.last?.count == 18 && summaries.last?.quantileValues.map(\.quantile) == [0, 1])
        metered.withLock { $0 = false }
        batches = try await run(reduction, values: values)
        #expect(batches.count == 1 && batches[0].uplinks == nil, "not metered: full resolution for both")
    }
}
