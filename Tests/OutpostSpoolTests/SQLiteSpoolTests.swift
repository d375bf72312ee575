import Foundation
import OutpostCore
import Testing
@testable import OutpostSpool

func temporarySpoolPath() throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent("spool.db").path
}

/// Destinations for OTLP uplinks (metrics and logs) named `names`.
func otlp(_ names: String...) -> [SpoolDestination] {
    names.map { SpoolDestination(uplink: $0, accepts: Signal.otlp) }
}

func batch(_ lane: Lane, id: String = UUID().uuidString, size: Int = 100, items: Int = 10, created: Int64 = 0) -> Batch {
    Batch(id: id, lane: lane, signal: lane == .metrics ? .metrics : .logs, format: .otlpProtobuf,
          contentEncoding: .gzip, created: created, items: items, uncompressedBytes: size * 3,
          payload: Array(repeating: UInt8(truncatingIfNeeded: id.hashValue), count: size))
}

@Suite("SQLite spool")
struct SQLiteSpoolTests {
    @Test("alerts go first, then events, then metrics; first in, first out within a lane")
    func order() throws {
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 1 << 20, destinations: otlp("otlp"))
        for (index, lane) in [Lane.metrics, .events, .alerts, .metrics, .alerts].enumerated() {
            try spool.enqueue(batch(lane, id: "b\(index)"))
        }
        var sent: [String] = []
        while let next = try spool.next(for: "otlp", now: 0) {
            sent.append(next.batch.id)
            try spool.delivered(next.sequence, by: "otlp")
        }
        #expect(sent == ["b2", "b4", "b1", "b0", "b3"])
        #expect(try spool.statistics().accountedBytes == 0)
    }

    @Test("a batch leaves only when every uplink it was meant for has delivered it")
    func everyUplinkDelivers() throws {
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 1 << 20,
                                    destinations: otlp("mqtt", "otlp"))
        try spool.enqueue(batch(.metrics, id: "m"))
        let forMQTT = try #require(try spool.next(for: "mqtt", now: 0))
        try spool.delivered(forMQTT.sequence, by: "mqtt")
        #expect(try spool.next(for: "mqtt", now: 0) == nil)
        let forOTLP = try #require(try spool.next(for: "otlp", now: 0))
        #expect(forOTLP.batch.id == "m")
        #expect(try spool.statistics()[.metrics].batches == 1)
        try spool.delivered(forOTLP.sequence, by: "otlp")
        #expect(try spool.statistics()[.metrics].batches == 0)
    }

    @Test("deferred batches wait until their next attempt; attempts are counted")
    func backoff() throws {
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 1 << 20, destinations: otlp("otlp"))
        try spool.enqueue(batch(.metrics, id: "m"))
        let first = try #require(try spool.next(for: "otlp", now: 0))
        try spool.deferred(first.sequence, by: "otlp", until: 100, error: "503")
        #expect(try spool.next(for: "otlp", now: 99) == nil)
        #expect(try spool.next(for: "otlp", now: 100)?.attempts == 1)
    }

    @Test("when full, the oldest metrics go first, then events, alerts last; every drop is counted")
    func evictionOrder() throws {
        // Room for four 1000-byte batches (each also counts the per-batch overhead).
        let bound = 4 * (1000 + SQLiteSpool.overheadPerBatch)
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: bound, destinations: otlp("otlp"))
        try spool.enqueue(batch(.alerts, id: "a1", size: 1000, items: 1))
        try spool.enqueue(batch(.metrics, id: "m1", size: 1000, items: 50))
        try spool.enqueue(batch(.events, id: "e1", size: 1000, items: 5))
        try spool.enqueue(batch(.metrics, id: "m2", size: 1000, items: 50))
        #expect(try spool.enqueue(batch(.alerts, id: "a2", size: 1000, items: 1)) == [
            SpoolEviction(lane: .metrics, batches: 1, items: 50, bytes: 1000),
        ])
        #expect(try spool.batches(limit: 10).map(\.batch.id) == ["a1", "a2", "e1", "m2"])
        let evicted = try spool.enqueue(batch(.alerts, id: "a3", size: 2000, items: 1))
        #expect(evicted == [SpoolEviction(lane: .metrics, batches: 1, items: 50, bytes: 1000),
                            SpoolEviction(lane: .events, batches: 1, items: 5, bytes: 1000)])
        #expect(try spool.batches(limit: 10).map(\.batch.id) == ["a1", "a2", "a3"])
        try spool.enqueue(batch(.alerts, id: "a4", size: 1000, items: 1))
        #expect(try spool.batches(limit: 10).map(\.batch.id) == ["a2", "a3", "a4"], "alerts go only when nothing else can")
        let statistics = try spool.statistics()
        #expect(statistics[.metrics].droppedBatches == 2)
        #expect(statistics[.metrics].droppedItems == 100)
        #expect(statistics[.events].droppedBatches == 1)
        #expect(statistics[.alerts].droppedBatches == 1)
        #expect(statistics.accountedBytes <= bound)
    }

    @Test("a batch bigger than the whole spool is refused and counted, nothing else is touched")
    func tooBig() throws {
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 2000, destinations: otlp("otlp"))
        try spool.enqueue(batch(.metrics, id: "small", size: 500))
        #expect(try spool.enqueue(batch(.metrics, id: "huge", size: 5000)).first?.batches == 1)
        #expect(try spool.batches(limit: 10).map(\.batch.id) == ["small"])
        #expect(try spool.statistics()[.metrics].droppedBatches == 1)
    }

    @Test("batches and drop counts survive closing and reopening")
    func durable() throws {
        let path = try temporarySpoolPath()
        do {
            let spool = try SQLiteSpool(path: path, maxBytes: 1200, destinations: otlp("otlp"))
            try spool.enqueue(batch(.metrics, id: "m1", size: 1000))
            try spool.enqueue(batch(.alerts, id: "a1", size: 1000))
        }
        let reopened = try SQLiteSpool(path: path, maxBytes: 1200, destinations: otlp("otlp"))
        #expect(try reopened.batches(limit: 10).map(\.batch.id) == ["a1"])
        #expect(try reopened.statistics()[.metrics].droppedBatches == 1)
        #expect(try reopened.statistics().accountedBytes == 1000 + SQLiteSpool.overheadPerBatch)
        let readOnly = try SQLiteSpool(readOnlyPath: path)
        #expect(try readOnly.statistics()[.alerts].batches == 1)
    }

    @Test("a permanent rejection drops the batch for that uplink and counts it")
    func rejected() throws {
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 1 << 20, destinations: otlp("otlp"))
        try spool.enqueue(batch(.events, id: "e", items: 3))
        let next = try #require(try spool.next(for: "otlp", now: 0))
        try spool.rejected(next.sequence, by: "otlp")
        #expect(try spool.next(for: "otlp", now: 0) == nil)
        #expect(try spool.statistics()[.events].droppedItems == 3)
    }

    @Test("batches stored while no uplink was configured are adopted by the uplinks configured later")
    func adoptsOrphans() throws {
        let path = try temporarySpoolPath()
        try SQLiteSpool(path: path, maxBytes: 1 << 20, destinations: []).enqueue(batch(.metrics, id: "kept"))
        let spool = try SQLiteSpool(path: path, maxBytes: 1 << 20, destinations: otlp("otlp"))
        #expect(try spool.next(for: "otlp", now: 0)?.batch.id == "kept")
    }

    @Test("a full disk is an SQLITE_FULL error that leaves the spool usable")
    func diskFull() throws {
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 64 << 20, destinations: otlp("otlp"))
        try spool.limitPagesForTesting(try spool.pageCountForTesting() + 2)
        var failure: SQLiteError?
        do {
            for index in 0..<50 { try spool.enqueue(batch(.metrics, id: "m\(index)", size: 4000)) }
        } catch {
            failure = error
        }
        #expect(failure?.isDiskFull == true, "\(String(describing: failure))")
        try spool.limitPagesForTesting(1_000_000)
        try spool.enqueue(batch(.metrics, id: "after", size: 4000))
        #expect(try spool.batches(limit: 100).contains { $0.batch.id == "after" })
    }

    @Test("a file that is not a database is reported as unusable and can be moved aside")
    func notADatabase() throws {
        let path = try temporarySpoolPath()
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try SQLiteSpool(path: path, maxBytes: 1 << 20, destinations: [])
        } throws: { ($0 as? SQLiteError)?.isUnusableFile == true }
        let aside = SQLiteSpool.moveAside(path, now: 1_700_000_000_000_000_000)
        #expect(FileManager.default.fileExists(atPath: aside))
        #expect(!FileManager.default.fileExists(atPath: path))
        _ = try SQLiteSpool(path: path, maxBytes: 1 << 20, destinations: [])
    }
}
