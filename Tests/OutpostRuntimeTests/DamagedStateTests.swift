import Foundation
import OutpostInputs
import Synchronization
import Logging
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostRuntime
@testable import OutpostSpool

/// Runs SQL with Python's sqlite3 (another program touching the file) and returns its printed result.
@discardableResult
private func python(_ path: String, _ script: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); " + script, path]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "python on \(path): \(script)")
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

private func openSpool(_ path: String, stateDirectory: String?, events: EventCollector,
                       uplinks: [String] = ["otlp"]) async throws -> SpoolService {
    var configuration = SpoolConfiguration(path: path)
    configuration.stateDirectory = stateDirectory
    return try await SpoolService.open(configuration, uplinks: uplinks, events: events.continuation,
                                       counters: RuntimeCounters(inputCount: 0, startedAt: 0),
                                       clock: ManualClock(), wallClock: ManualWallClock(), logger: quietLogger)
}

private func files(in directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory)
}

@Suite("Damaged state: the runtime replaces, salvages and keeps going")
struct DamagedStateTests {
    @Test("a spool with another program's schema is moved aside and a fresh one started, on the first start")
    func foreignSchemaMovedAside() async throws {
        let state = try temporaryStateDirectory()
        try python(state + "/spool.db",
                   "c.execute('create table batches (x)'); c.execute('insert into batches values (1)'); c.commit()")
        let events = EventCollector()
        let service = try await openSpool(state + "/spool.db", stateDirectory: state, events: events)
        let reset = try await events.next()
        #expect(reset.name == .spoolReset)
        #expect(reset.message.contains(state + "/spool.db") && reset.message.contains("moved it to"), "\(reset.message)")
        #expect(try files(in: state).contains { $0.hasPrefix("spool.db.unusable-") })
        await service.write([storeBatch(.metrics)])
        #expect(try service.connection.spool.statistics()[.metrics].batches == 1)
        #expect(SQLiteSpool.isOutpostDatabase(state + "/spool.db"))
    }

    @Test("one bad page at start: the readable backlog is salvaged into the new spool and the loss counted")
    func badPageSalvagedAtStart() async throws {
        let state = try temporaryStateDirectory()
        let path = state + "/spool.db"
        do {
            let spool = try SQLiteSpool(path: path, maxBytes: 64 << 20, uplinks: ["otlp"])
            for _ in 0..<30 { try spool.enqueue(storeBatch(.metrics, size: 3000)) }
            spool.close()
        }
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        try garble(path, at: size / 2 / 4096 * 4096, count: 4096, seed: 7)
        let events = EventCollector()
        let service = try await openSpool(path, stateDirectory: state, events: events)
        let reset = try await events.next()
        #expect(reset.name == .spoolReset)
        guard case .int(let salvaged) = reset.attributes["outpost.spool.salvaged_batches"],
            case .int(let unreadable) = reset.attributes["outpost.spool.unreadable_batches"]
        else { Issue.record("no salvage counts in \(reset.attributes)"); return }
        #expect(salvaged >= 25 && unreadable >= 1, "\(reset.message)")
        #expect(reset.message.contains("outpost spool export --spool"))
        #expect(try service.connection.spool.statistics()[.metrics].batches == Int(salvaged))
        let first = await service.nextBatch(for: "otlp", now: 0, liveSince: 0, includeBacklog: true)
        #expect(first != nil, "the salvaged backlog is delivered")
    }

    @Test("a page damaged while running: the spool is replaced on the next read, the batches are still delivered")
    func corruptionWhileRunning() async throws {
        let state = try temporaryStateDirectory()
        let path = state + "/spool.db"
        let events = EventCollector()
        let service = try await openSpool(path, stateDirectory: state, events: events)
        await service.write((0..<5).map { _ in storeBatch(.metrics) })
        // Another program checkpoints, then the pages holding the delivery bookkeeping go bad under the runtime.
        _ = try python(path, "c.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchall()")
        let roots = try python(path, "print(' '.join(str(r[0]) for r in c.execute(\"select rootpage from sqlite_master where name in ('deliveries','deliveries_by_uplink')\")))")
        for root in roots.split(separator: " ").compactMap({ Int($0) }) {
            try garble(path, at: (root - 1) * 4096, count: 4096, seed: 7)
        }
        let next = await service.nextBatch(for: "otlp", now: 0, liveSince: 0, includeBacklog: true)
        let reset = try await events.next()
        #expect(reset.name == .spoolReset, "\(reset.message)")
        #expect(reset.attributes["outpost.spool.salvaged_batches"] == .int(5), "\(reset.message)")
        let batch = try #require(next, "the question is asked again of the new spool")
        await service.markDelivered(batch.sequence, by: "otlp")
        #expect(try service.connection.spool.statistics()[.metrics].batches == 4)
        await service.write([storeBatch(.metrics)])
        #expect(try service.connection.spool.statistics()[.metrics].batches == 5, "writes work again")
        #expect(service.counters.snapshot.spoolResets == 1)
    }

    @Test("a stop that cannot store its memory queue counts the loss instead of claiming all is spooled")
    func stopCountsWhatIsLost() async throws {
        let events = EventCollector()
        let state = try temporaryStateDirectory()
        let service = try await openSpool(state + "/spool.db", stateDirectory: state, events: events)
        try service.connection.spool.limitPagesForTesting(try service.connection.spool.pageCountForTesting())
        await service.write((0..<3).map { _ in storeBatch(.metrics) })
        #expect(try await events.next().name == .spoolWriteFailed)
        #expect(service.accountForWhatIsLeft() == 3)
        #expect(service.counters.snapshot.batchesLostAtStop == 3)
        #expect(service.counters.snapshot.itemsLostAtStop == 30)
        #expect(service.accountForWhatIsLeft() == 0, "nothing is left after the count")
    }
}

@Suite("Security: Outpost never replaces a file it does not own")
struct OwnedFilesTests {
    @Test("a spool path outside state_dir naming a file that is not a spool is refused and left untouched")
    func foreignFileOutsideStateDirectory() async throws {
        let state = try temporaryStateDirectory(), elsewhere = try temporaryStateDirectory()
        let victim = elsewhere + "/passwd"
        try "root:x:0:0:root:/root:/bin/bash\n".write(toFile: victim, atomically: true, encoding: .utf8)
        let error = await #expect(throws: StartupError.self) {
            _ = try await openSpool(victim, stateDirectory: state, events: EventCollector())
        }
        #expect(error?.message.contains(victim) == true, "\(String(describing: error))")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "root:x:0:0:root:/root:/bin/bash\n")
        #expect(try files(in: elsewhere) == ["passwd"])
    }

    @Test("another program's database outside state_dir is refused, not moved aside")
    func foreignDatabaseOutsideStateDirectory() async throws {
        let state = try temporaryStateDirectory(), elsewhere = try temporaryStateDirectory()
        try python(elsewhere + "/app.db", "c.execute('create table users (name)'); c.commit()")
        await #expect(throws: StartupError.self) {
            _ = try await openSpool(elsewhere + "/app.db", stateDirectory: state, events: EventCollector())
        }
        #expect(try files(in: elsewhere) == ["app.db"])
    }

    @Test("a symbolic link at the spool path is refused, even inside state_dir")
    func symbolicLink() async throws {
        let state = try temporaryStateDirectory()
        try "keep".write(toFile: state + "/target", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: state + "/spool.db", withDestinationPath: state + "/target")
        let error = await #expect(throws: StartupError.self) {
            _ = try await openSpool(state + "/spool.db", stateDirectory: state, events: EventCollector())
        }
        #expect(error?.message.contains("symbolic link") == true)
        #expect(try String(contentsOfFile: state + "/target", encoding: .utf8) == "keep")
    }

    @Test("a state directory that cannot be created is a clear startup error naming the path")
    func stateDirectoryUnusable() async throws {
        let parent = try temporaryStateDirectory()
        try "x".write(toFile: parent + "/afile", atomically: true, encoding: .utf8)
        let error = await #expect(throws: StartupError.self) {
            _ = try await openSpool(parent + "/afile/state/spool.db", stateDirectory: parent + "/afile/state",
                                    events: EventCollector())
        }
        #expect(error?.message.contains(parent + "/afile") == true, "\(String(describing: error))")
    }

    @Test("a status path naming a file that is not an Outpost status file stops the start; the file stays")
    func statusFileNotOurs() async throws {
        let state = try temporaryStateDirectory()
        let victim = state + "/hosts"
        try "127.0.0.1 localhost\n".write(toFile: victim, atomically: true, encoding: .utf8)
        let configuration = try OutpostConfiguration.parse("""
            [gateway]
            state_dir = "\(state)"
            [status]
            path = "\(victim)"
            [[input.simulated]]
            name = "a.b"
            """, file: "t.toml", environment: [:])
        let runtime = Runtime(configuration: configuration, clock: ManualClock(), wallClock: ManualWallClock(),
                              extraOutputs: [])
        let error = await #expect(throws: StartupError.self) {
            _ = try await runtime.groupConfiguration(logger: quietLogger)
        }
        #expect(error?.message.contains(victim) == true)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "127.0.0.1 localhost\n")
        // Outpost's own status file is fine to replace.
        let own = StatusDocument.render(configuration: configuration, counters: RuntimeCounters.Snapshot(),
                                        spool: SpoolStatistics(), uplinks: [], now: 0, state: "stopped")
        try own.write(toFile: victim, atomically: true, encoding: .utf8)
        _ = try await runtime.groupConfiguration(logger: quietLogger)
    }
}

@Suite("Reports about refused batches never feed themselves")
struct RejectionReportTests {
    @Test("the first refusal per uplink and lane is reported at once, the rest of the minute in one summary")
    func window() {
        var reports = DropReports()
        let refuse = { (lane: Lane) in reports.admit(uplink: "otlp", lane: lane, batches: 1, items: 1, bytes: 10, reason: "HTTP 401") }
        #expect(refuse(.alerts) == true)
        #expect(refuse(.metrics) == true)
        let repeated = (0..<50).map { _ in refuse(.alerts) }
        #expect(repeated.allSatisfy { !$0 })
        var early: [DropReports.Summary] = []
        for _ in 0..<(DropReports.windowSteps - 1) { early += reports.step() }
        #expect(early.isEmpty)
        let due = reports.step()
        #expect(due.count == 1)
        #expect(due.first?.lane == .alerts && due.first?.batches == 50 && due.first?.seconds == 60)
        var quiet: [DropReports.Summary] = []
        for _ in 0..<DropReports.windowSteps { quiet += reports.step() }
        #expect(quiet.isEmpty)
        let again = refuse(.alerts)
        #expect(again == true,
                "after a quiet window the next refusal is news again")
    }

    @Test("a receiver refusing everything: 100 refusals make one event, then one summary per minute")
    func serviceReports() async throws {
        let events = EventCollector()
        let state = try temporaryStateDirectory()
        let service = try await openSpool(state + "/spool.db", stateDirectory: state, events: events)
        let refused = Batch(id: "x", lane: .alerts, signal: "logs", contentType: "application/x-protobuf",
                            contentEncoding: "gzip", created: 0, items: 1, uncompressedBytes: 10, payload: [1])
        for _ in 0..<100 { service.reportRejection(refused, uplink: "otlp", reason: "HTTP 401") }
        for _ in 0..<DropReports.windowSteps { service.tickDropWindow() }
        events.continuation.finish()
        var received: [Event] = []
        for await event in events.stream { received.append(event) }
        #expect(received.count == 2, "\(received.map(\.message))")
        #expect(received.allSatisfy { $0.name == .spoolDropped })
        #expect(received.last?.attributes["outpost.spool.dropped_batches"] == .int(99))
        #expect(received.last?.message.contains("HTTP 401") == true)
    }
}

@Suite("Clock at boot: readings wait for a synchronised clock")
struct SampleGateTests {
    @Test("readings stamped in 1970 are held, then leave in order with the right times once the clock is set")
    func holdThenRelease() {
        let clocks = HandSetClocks()
        var probe = ClockSyncProbe()
        probe.timesyncDirectory = "/nonexistent"
        let clock = SyncAwareWallClock(base: clocks, monotonic: clocks, probe: probe)
        let gate = SampleGate(clock: clock, inputCount: 2, logger: quietLogger)
        let tank = Series(name: "tank.level", unit: "%")
        for value in 0..<3 {
            #expect(gate.admit([.sample(Sample(series: tank, time: clock.nowNanos(), value: Double(value)))], from: 0)
                .isEmpty)
            clocks.advance(seconds: 1)
        }
        #expect(gate.admit([.problem("bad row")], from: 1).count == 1, "other inputs are not held without cause")
        clocks.setWall(1_796_078_705)
        let released = gate.admit([.sample(Sample(series: tank, time: clock.nowNanos(), value: 3))], from: 0)
        let times = released.compactMap { reading -> Int64? in
            if case .sample(let sample) = reading { return sample.time } else { return nil }
        }
        #expect(times == [1_796_078_702, 1_796_078_703, 1_796_078_704, 1_796_078_705].map { $0 * 1_000_000_000 })
        #expect(gate.admit([.sample(Sample(series: tank, time: clock.nowNanos(), value: 4))], from: 0).count == 1)
    }

    @Test("the hold is bounded: beyond maximumHeldPerInput the oldest readings go, counted")
    func bounded() {
        let clocks = HandSetClocks()
        var probe = ClockSyncProbe()
        probe.timesyncDirectory = "/nonexistent"
        let clock = SyncAwareWallClock(base: clocks, monotonic: clocks, probe: probe)
        let gate = SampleGate(clock: clock, inputCount: 1, logger: quietLogger)
        let tank = Series(name: "tank.level", unit: "%")
        let many = (0..<(SampleGate.maximumHeldPerInput + 10)).map {
            Reading.sample(Sample(series: tank, time: -1 - Int64($0), value: 0))
        }
        #expect(gate.admit(many, from: 0).isEmpty)
        #expect(gate.dropped == 10)
    }
}

@Suite("Drop reports on a full spool never feed themselves")
struct FullSpoolReportTests {
    @Test("a full spool evicting on every write: one report at once, the rest in one summary a minute later")
    func evictions() async throws {
        let events = EventCollector()
        let state = try temporaryStateDirectory()
        var configuration = SpoolConfiguration(path: state + "/spool.db", stateDirectory: state)
        configuration.maxSize = 64 * 1024
        let service = try await SpoolService.open(configuration, uplinks: ["otlp"], events: events.continuation,
                                                  counters: RuntimeCounters(inputCount: 0, startedAt: 0),
                                                  clock: ManualClock(), wallClock: ManualWallClock(),
                                                  logger: quietLogger)
        for _ in 0..<40 { await service.write([storeBatch(.metrics)]) }
        for _ in 0..<DropReports.windowSteps { service.tickDropWindow() }
        events.continuation.finish()
        var received: [Event] = []
        for await event in events.stream { received.append(event) }
        #expect(received.count == 2, "\(received.map(\.message))")
        guard case .int(let first) = received.first?.attributes["outpost.spool.dropped_batches"],
            case .int(let rest) = received.last?.attributes["outpost.spool.dropped_batches"]
        else { Issue.record("no counts"); return }
        let stored = try service.connection.spool.statistics()[.metrics].batches
        #expect(Int(first + rest) + stored == 40, "every drop is counted in the reports")
    }
}

@Suite("Runtime events wait for a trusted clock too")
struct HeldEventTests {
    @Test("an event raised while the clock reads 1970 leaves once it is set, stamped when it happened")
    func heldUntilSync() async throws {
        let clocks = HandSetClocks()
        var probe = ClockSyncProbe()
        probe.timesyncDirectory = "/nonexistent"
        let clock = SyncAwareWallClock(base: clocks, monotonic: clocks, probe: probe)
        let events = EventCollector()
        let state = try temporaryStateDirectory()
        let service = try await SpoolService.open(SpoolConfiguration(path: state + "/spool.db", stateDirectory: state),
                                                  uplinks: ["otlp"], events: events.continuation,
                                                  counters: RuntimeCounters(inputCount: 0, startedAt: 0),
                                                  clock: ManualClock(), wallClock: clocks, eventClock: clock,
                                                  logger: quietLogger)
        let refused = Batch(id: "x", lane: .metrics, signal: "metrics", contentType: "application/x-protobuf",
                            contentEncoding: "gzip", created: 0, items: 1, uncompressedBytes: 10, payload: [1])
        service.reportRejection(refused, uplink: "otlp", reason: "HTTP 401")
        clocks.advance(seconds: 10)
        service.releaseHeldEvents()
        clocks.setWall(1_796_078_705)
        clocks.advance(seconds: 1)
        service.releaseHeldEvents()
        events.continuation.finish()
        var received: [Event] = []
        for await event in events.stream { received.append(event) }
        #expect(received.count == 1)
        let expected: Int64 = (1_796_078_705 - 10) * 1_000_000_000
        let time = try #require(received.first?.time)
        #expect(abs(time - expected) <= 1, "\(time)")
    }
}

@Suite("Self-metrics and a clock at 1970")
struct SelfMetricsClockTests {
    @Test("no self-metrics while the wall clock reads a time before the build; all of them once it is set")
    func skippedBeforeSync() {
        let counters = RuntimeCounters(inputCount: 0, startedAt: 0).snapshot
        #expect(SelfMetrics.samples(counters: counters, spool: SpoolStatistics(), now: 100 * 1_000_000_000).isEmpty)
        #expect(!SelfMetrics.samples(counters: counters, spool: SpoolStatistics(),
                                     now: 1_796_078_705 * 1_000_000_000).isEmpty)
    }
}

@Suite("An unwritable status file is reported once, not every few seconds")
struct StatusFailureTests {
    @Test("a run of failures is one change, and its end another")
    func latch() {
        let latch = FailureLatch()
        #expect(!latch.reportChange(failing: false), "a first success is not news")
        #expect(latch.reportChange(failing: true))
        #expect(!latch.reportChange(failing: true))
        #expect(!latch.reportChange(failing: true))
        #expect(latch.reportChange(failing: false))
    }
}
