import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostSpool

@Suite("Write-behind: batches confirmed from memory never reach the disk")
struct WriteBehindTests {
    func open(_ state: String, writeAfter: Duration, clock: ManualClock) async throws -> SpoolService {
        var configuration = SpoolConfiguration(path: state + "/spool.db", stateDirectory: state)
        configuration.writeAfter = writeAfter
        return try await SpoolService.open(configuration,
                                           destinations: [SpoolDestination(uplink: "otlp", accepts: Signal.otlp),
                                                          SpoolDestination(uplink: "mqtt", accepts: Signal.otlp)],
                                           events: EventCollector(), counters: PipelineCounters(inputCount: 0, startedAt: 0),
                                           clock: clock, wallClock: ManualWallClock(), logger: quietLogger)
    }

    func stored(_ service: SpoolService) throws -> Int {
        try service.connection.spool.statistics()[.metrics].batches
    }

    @Test("a batch every uplink confirms from memory is never written")
    func confirmedFromMemory() async throws {
        let clock = ManualClock()
        let service = try await open(try temporaryStateDirectory(), writeAfter: .seconds(2), clock: clock)
        let running = Task { try await service.run() }
        await service.write([storeBatch(.metrics)])
        for uplink in ["otlp", "mqtt"] {
            let offered = try #require(await service.nextBatch(for: uplink, now: 0, liveSince: 0, includeBacklog: true))
            #expect(offered.sequence < 0, "offered from memory")
            #expect(await service.nextBatch(for: uplink, now: 0, liveSince: 0, includeBacklog: true) == nil,
                    "not offered twice while it is being sent")
            await service.markDelivered(offered.sequence, by: uplink)
        }
        for _ in 0..<3 {
            try await clock.waitForSleepers(1)
            clock.advance(by: .seconds(1))
        }
        try await clock.waitForSleepers(1)
        running.cancel()
        _ = try? await running.value
        #expect(try stored(service) == 0, "past write_after and through the stop")
        #expect(service.counters.snapshot.batchesSpooled == 0)
    }

    @Test("one uplink confirms, the other defers: written at once, for the one still owing it only")
    func deferredIsWrittenForTheRest() async throws {
        let service = try await open(try temporaryStateDirectory(), writeAfter: .seconds(2), clock: ManualClock())
        await service.write([storeBatch(.metrics)])
        let first = try #require(await service.nextBatch(for: "otlp", now: 0, liveSince: 0, includeBacklog: true))
        await service.markDelivered(first.sequence, by: "otlp")
        let second = try #require(await service.nextBatch(for: "mqtt", now: 0, liveSince: 0, includeBacklog: true))
        await service.markDeferred(second.sequence, by: "mqtt", until: 0, error: "broker down")
        #expect(try stored(service) == 1)
        #expect(await service.nextBatch(for: "otlp", now: 0, liveSince: 0, includeBacklog: true) == nil)
        let again = try #require(await service.nextBatch(for: "mqtt", now: 0, liveSince: 0, includeBacklog: true))
        #expect(again.sequence > 0 && again.batch.id == first.batch.id)
    }

    @Test("a batch nobody confirms within write_after is written; one being sent waits for its outcome")
    func writtenAfterTheDeadline() async throws {
        let clock = ManualClock()
        let service = try await open(try temporaryStateDirectory(), writeAfter: .seconds(2), clock: clock)
        let running = Task { try await service.run() }
        await service.write([storeBatch(.metrics), storeBatch(.metrics)])
        let sending = try #require(await service.nextBatch(for: "otlp", now: 0, liveSince: 0, includeBacklog: true))
        for _ in 0..<3 {
            try await clock.waitForSleepers(1)
            clock.advance(by: .seconds(1))
        }
        try await clock.waitForSleepers(1)
        #expect(try stored(service) == 1, "the idle one is written; the one being sent is not")
        await service.markDelivered(sending.sequence, by: "otlp")
        running.cancel()
        _ = try? await running.value
    }

    @Test("write_after = 0s writes every batch before it is offered")
    func writeThrough() async throws {
        let service = try await open(try temporaryStateDirectory(), writeAfter: .zero, clock: ManualClock())
        await service.write([storeBatch(.metrics)])
        #expect(try stored(service) == 1)
        let offered = try #require(await service.nextBatch(for: "otlp", now: 0, liveSince: 0, includeBacklog: true))
        #expect(offered.sequence > 0)
    }
}

@Suite("Staged batches bookkeeping")
struct StagedBatchesTests {
    @Test("alerts are offered before older batches; a batch is gone once every uplink confirmed it")
    func alertsFirstAndConfirm() {
        var staged = StagedBatches()
        staged.stage(storeBatch(.metrics), for: ["a", "b"], deadline: 10)
        staged.stage(storeBatch(.alerts), for: ["a"], deadline: 10)
        let everything = SpoolPolicy().plan(for: "a", at: DeliveryMoment(now: 0, liveSince: 0, includeBacklog: true))
        let alertsOnly = DeliveryPlan(steps: [DeliveryStep(lanes: [.alerts])])
        let first = staged.take(for: "a", by: everything)
        #expect(first?.batch.lane == .alerts)
        #expect(staged.take(for: "a", by: alertsOnly) == nil, "the only alert is being sent")
        let second = staged.take(for: "a", by: everything)
        #expect(second?.batch.lane == .metrics)
        staged.confirm(second!.sequence, by: "a")
        #expect(staged.count == 2, "b still owes the metrics batch")
        staged.confirm(first!.sequence, by: "a")
        #expect(staged.count == 1)
        #expect(staged.due(now: 9).isEmpty)
        let due = staged.due(now: 10)
        #expect(due.map(\.owing) == [["b"]])
        #expect(staged.isEmpty)
    }

    @Test("a confirmation for a batch no longer staged is told apart")
    func unknownConfirmation() {
        var staged = StagedBatches()
        staged.stage(storeBatch(.metrics), for: ["a"], deadline: 0)
        _ = staged.due(now: 0, everything: true)
        #expect(staged.confirm(-1, by: "a") == false)
    }
}
