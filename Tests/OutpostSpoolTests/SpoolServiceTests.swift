import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
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
                       destinations: [SpoolDestination] = otlp("otlp")) async throws -> SpoolService {
    var configuration = SpoolConfiguration(path: path)
    configuration.writeAfter = .zero
    configuration.stateDirectory = stateDirectory
    return try await SpoolService.open(configuration, destinations: destinations, events: events,
                                       counters: PipelineCounters(inputCount: 0, startedAt: 0),
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
            let spool = try SQLiteSpool(path: path, maxBytes: 64 << 20, destinations: otlp("otlp"))
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
}

@Suite("Drop reports on a full spool never feed themselves")
struct FullSpoolReportTests {
    @Test("a full spool evicting on every write: one report at once, the rest in one summary a minute later")
    func evictions() async throws {
        let events = EventCollector()
        let state = try temporaryStateDirectory()
        var configuration = SpoolConfiguration(path: state + "/spool.db", stateDirectory: state)
        configuration.writeAfter = .zero
        configuration.maxSize = 64 * 1024
        let service = try await SpoolService.open(configuration, destinations: otlp("otlp"), events: events,
                                                  counters: PipelineCounters(inputCount: 0, startedAt: 0),
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

@Suite("Spool service: failures keep the runtime running")
struct SpoolServiceTests {
    func open(_ path: String, events: EventCollector, maxSize: Int64 = 64 << 20) async throws -> SpoolService {
        var configuration = SpoolConfiguration(path: path)
        configuration.writeAfter = .zero
        configuration.maxSize = maxSize
        configuration.stateDirectory = (path as NSString).deletingLastPathComponent
        return try await SpoolService.open(configuration, destinations: otlp("otlp"), events: events,
                                           counters: PipelineCounters(inputCount: 0, startedAt: 0),
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
