import Foundation
import Logging
import OutpostCore
import OutpostTestSupport
import ServiceLifecycle
import Testing
@testable import OutpostRuntime
@testable import OutpostSpool

func storeBatch(_ lane: Lane, size: Int = 4000) -> Batch {
    Batch(id: UUID().uuidString, lane: lane, signal: "metrics", contentType: "application/x-protobuf",
          contentEncoding: "gzip", created: 0, items: 10, uncompressedBytes: size, payload: Array(repeating: 7, count: size))
}

/// Collects what the spool service reports.
final class EventCollector: Sendable {
    let stream: AsyncStream<Event>
    let continuation: AsyncStream<Event>.Continuation

    init() {
        (stream, continuation) = AsyncStream<Event>.makeStream()
    }

    func next(timeout: Duration = .seconds(30)) async throws -> Event {
        try await withThrowingTaskGroup(of: Event?.self) { group in
            group.addTask { [stream] in
                for await event in stream { return event }
                return nil
            }
            group.addTask {
                try await ContinuousClock().sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let event = try await group.next() ?? nil else { throw TimeoutError(what: "an event") }
            return event
        }
    }
}

@Suite("Spool service: failures keep the runtime running")
struct SpoolServiceTests {
    func open(_ path: String, events: EventCollector, maxSize: Int64 = 64 << 20) async throws -> SpoolService {
        var configuration = SpoolConfiguration(path: path)
        configuration.maxSize = maxSize
        configuration.stateDirectory = (path as NSString).deletingLastPathComponent
        return try await SpoolService.open(configuration, uplinks: ["otlp"], events: events.continuation,
                                           counters: RuntimeCounters(inputCount: 0, startedAt: 0),
                                           clock: ManualClock(), wallClock: ManualWallClock(),
                                           logger: quietLogger)
    }

    @Test("a full disk: one write_failed event, batches wait in memory, and are stored once space returns")
    func diskFull() async throws {
        let events = EventCollector()
        let path = try temporaryStateDirectory() + "/spool.db"
        let service = try await open(path, events: events)
        let connection = service.connection
        let pages = try connection.spool.pageCountForTesting()
        try connection.spool.limitPagesForTesting(pages + 1)
        await service.write((0..<5).map { _ in storeBatch(.metrics) })
        let failure = try await events.next()
        #expect(failure.name == .spoolWriteFailed)
        #expect(failure.severity == .error)
        #expect(failure.message.contains("disk is full"))
        await service.write([storeBatch(.alerts)])
        let waiting = service.counters.snapshot.batchesWaitingInMemory
        #expect(waiting >= 1)
        try connection.spool.limitPagesForTesting(1_000_000)
        await service.write([])
        let statistics = try connection.spool.statistics()
        #expect(statistics[.metrics].batches + statistics[.alerts].batches == 6, "nothing was lost")
        #expect(service.counters.snapshot.batchesWaitingInMemory == 0)
    }

    @Test("an unusable database is moved aside, reported, and a fresh spool started")
    func corruptDatabase() async throws {
        let events = EventCollector()
        let directory = try temporaryStateDirectory()
        let path = directory + "/spool.db"
        try Data(repeating: 0x42, count: 16384).write(to: URL(fileURLWithPath: path))
        let service = try await open(path, events: events)
        let reset = try await events.next()
        #expect(reset.name == .spoolReset)
        #expect(reset.message.contains("moved it to"))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(files.contains { $0.hasPrefix("spool.db.unusable-") })
        await service.write([storeBatch(.metrics)])
        #expect(try service.connection.spool.statistics()[.metrics].batches == 1)
    }

    @Test("drops beyond max_size are reported as outpost.spool.dropped with the lane and counts")
    func dropsReported() async throws {
        let events = EventCollector()
        let service = try await open(try temporaryStateDirectory() + "/spool.db", events: events, maxSize: 64 * 1024)
        await service.write((0..<20).map { _ in storeBatch(.metrics) })
        let dropped = try await events.next()
        #expect(dropped.name == .spoolDropped)
        #expect(dropped.attributes["outpost.spool.lane"] == .string("metrics"))
        #expect(try service.connection.spool.statistics().accountedBytes <= 64 * 1024)
    }
}

@Suite("Batching through the runtime")
struct BatchingRuntimeTests {
    @Test("metrics close after max_age, alerts at once, and shutdown flushes the rest into the spool")
    func batchesReachTheSpool() async throws {
        let state = try temporaryStateDirectory()
        let clock = ManualClock(), wall = ManualWallClock()
        let configuration = try OutpostConfiguration.parse("""
            [gateway]
            state_dir = "\(state)"
            [log]
            readings_interval = "0s"
            [alerts]
            stdout = false
            [batch]
            max_age = "10s"
            [status]
            self_metrics_interval = "0s"
            [detect]
            warmup = 5
            sigma = 4
            [[input.simulated]]
            name = "tank.level"
            signal = "constant"
            base = 50.0
            noise = 0.1
            [[input.simulated.inject]]
            kind = "spike"
            at = "8s"
            size = 20.0
            """, file: "t.toml", environment: [:], clock: clock, wallClock: wall)
        let runtime = Runtime(configuration: configuration, clock: clock, wallClock: wall, extraOutputs: [])
        let group = ServiceGroup(configuration: try await runtime.groupConfiguration(logger: quietLogger))
        let running = Task { try await group.run() }
        for _ in 0..<9 {
            try await clock.waitForSleepers(5)
            wall.advance(by: .seconds(1))
            clock.advance(by: .seconds(1))
        }
        let spool = try SQLiteSpool(readOnlyPath: state + "/spool.db")
        try await waitUntil("the alert batch") { (try? spool.statistics()[.alerts].batches) == 1 }
        #expect(try spool.statistics()[.metrics].batches == 0, "metrics wait for max_age")
        for _ in 0..<4 {
            try await clock.waitForSleepers(5)
            wall.advance(by: .seconds(1))
            clock.advance(by: .seconds(1))
        }
        try await waitUntil("the first metrics batch") { (try? spool.statistics()[.metrics].batches) == 1 }
        try await clock.waitForSleepers(5)
        clock.advance(by: .seconds(1))
        await group.triggerGracefulShutdown()
        try await running.value
        let statistics = try spool.statistics()
        #expect(statistics[.metrics].batches == 2, "shutdown flushed the pending metrics")
        #expect(statistics[.metrics].items >= 13)
        #expect(statistics[.alerts].items == 1)
        let status = try String(contentsOfFile: state + "/status.json", encoding: .utf8)
        #expect(status.contains("\"state\":\"stopped\""))
    }
}
