import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostDelivery
@testable import OutpostSpool
@testable import OutpostUplinks
@testable import OutpostWire

/// A metrics batch of `points` noisy temperatures (random low bytes, so gzip cannot shrink them away), created at
/// `now`.
private func noisyBatch(points: Int, now: Int64, seed: UInt64) throws -> Batch {
    var random = SplitMix64(seed: seed)
    let builder = BatchBuilder(encoder: OTLPEncoder(resource: ["service.name": .string("outpost")]),
                               format: BatchFormat())
    let samples = (0..<points).map { index in
        Sample(series: temperature, time: now - Int64(points - index) * 1_000_000_000,
               value: 20 + Double.random(in: -1...1, using: &random))
    }
    return try builder.metricsBatches(samples, now: now) { _ in 0 }[0]
}

private func lteUplink(_ endpoint: String) -> OTLPHTTPUplink {
    var configuration = OTLPHTTPUplinkConfiguration(metricsURL: endpoint + "/v1/metrics",
                                                    logsURL: endpoint + "/v1/logs", encoding: .protobuf)
    configuration.name = "lte"
    return OTLPHTTPUplink(configuration: configuration) { _ in }
}

@Suite("Byte budgets against a real receiver that counts its bytes", .serialized)
struct BudgetOnTheWireTests {
    @Test("""
        a daily budget: what is counted is what the receiver's socket saw, metrics stop within one batch of their \
        limit, alerts pass the spent budget, and every batch is delivered, waiting or an eviction that was reported
        """)
    func budgetOnTheWire() async throws {
        let server = try OTLPServer()
        let state = try temporaryStateDirectory()
        var holding = UplinkHolding()
        holding.budget = ByteBudget(daily: 40_000)
        let now: Int64 = 1_781_092_800 * 1_000_000_000  // 2026-06-10 12:00 UTC
        let wall = ManualWallClock(start: now)
        var configuration = SpoolConfiguration(path: state + "/spool.db", stateDirectory: state)
        configuration.writeAfter = .zero
        configuration.maxSize = 64 * 1024
        let events = EventCollector()
        let spool = try await SpoolService.open(configuration, destinations: [SpoolDestination(uplink: "lte",
                                                                                               accepts: Signal.otlp)],
                                                policy: SpoolPolicy(holds: ["lte": holding]), events: events,
                                                counters: PipelineCounters(inputCount: 0, startedAt: 0),
                                                clock: ManualClock(), wallClock: wall, logger: quietLogger)
        let batches = try (0..<60).map { try noisyBatch(points: 300, now: now, seed: UInt64($0)) }
        for batch in batches { await spool.write([batch]) }
        var settings = DeliverySettings()
        settings.holding = holding
        let loop = DeliveryLoop(uplink: lteUplink(server.endpoint), endpoint: server.endpoint, kind: "otlp_http",
                                queue: spool, signal: spool.wakeSignals["lte"]!, settings: settings,
                                clock: ManualClock(), wallClock: wall) { _ in }
        let running = Task { await loop.run() }
        defer { running.cancel() }

        // Metrics flow until their limit (the budget less 10 % of reserves), then wait.
        let metricsLimit = try #require(holding.budget.limit(for: .metrics, .daily))
        try await poll("the metrics budget is spent") {
            spool.allowances.status(for: "lte", now: now).held[.metrics] != nil
        }
        let beforeAlert = try server.wire()
        let spent = spool.allowances.status(for: "lte", now: now).budgets.first { $0.period == .daily }!.spent
        #expect(spent == Int64(beforeAlert.in + beforeAlert.out), "counted exactly what the receiver's socket saw")
        let largest = beforeAlert.exchanges.map(\.bytes).max() ?? 0
        let lastStart = spent - Int64(beforeAlert.exchanges.last?.bytes ?? 0)
        #expect(lastStart < metricsLimit, "the last batch started under the limit")
        #expect(spent < metricsLimit + Int64(largest), "passed by less than one batch")
        #expect(spent >= metricsLimit, "and held only once the limit was reached")

        // Spend the rest of the day's budget (a batch an earlier run sent, say): an alert still goes.
        await spool.spent(Int(40_000 - spent), by: "lte", now: now)
        #expect(Set(spool.allowances.status(for: "lte", now: now).held.keys) == [.events, .metrics])
        await spool.write([try alertBatch("spike while the budget is spent")])
        try await poll("the alert is delivered") {
            try server.received().contains { $0["path"] as? String == "/v1/logs" }
        }
        let afterAlert = try server.wire()
        let overrun = spool.allowances.status(for: "lte", now: now).budgets.first { $0.period == .daily }!.overrun
        #expect(overrun == Int64(afterAlert.exchanges.last!.bytes), "the alert is the part beyond the budget")

        // Nothing lost that the bound did not evict, and every eviction reported.
        for _ in 0..<DropReports.windowSteps { spool.tickDropWindow() }
        await spool.refreshStatistics()
        let statistics = spool.statistics.withLock { $0 }
        let delivered = try server.received().filter { $0["path"] as? String == "/v1/metrics" }.count
        let waiting = statistics.waiting["lte"]?[.metrics]?.batches ?? 0
        let evicted = statistics[.metrics].droppedBatches
        #expect(delivered > 5 && waiting > 5 && evicted > 5,
                "delivered \(delivered), waiting \(waiting), evicted \(evicted)")
        #expect(delivered + waiting + evicted == batches.count)
        let all = await events.finish()
        #expect(all.contains { $0.name == .budgetReached && $0.attributes["outpost.spool.lane"] == .string("metrics") })
        let reports = all.filter { $0.name == .spoolDropped }
        let reported = reports.reduce(0) { total, event in
            guard case .int(let count)? = event.attributes["outpost.spool.dropped_batches"] else { return total }
            return total + Int(count)
        }
        #expect(reported == evicted)
    }
}
