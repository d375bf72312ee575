import CSQLite
import Foundation
import OutpostCore
import Testing

@testable import OutpostSpool

/// A reader that holds a snapshot of the spool (a long `outpost spool inspect`, a backup, an open `sqlite3`) keeps
/// SQLite from recycling the write-ahead log: without a bound, every write makes it longer.
@Suite("The spool's bound counts its write-ahead log")
struct WALBoundTests {
    /// A separate connection that reads and keeps its read transaction open until `end`.
    final class LongReader {
        let database: SQLiteDatabase

        init(path: String) throws {
            database = try SQLiteDatabase(path: path, readOnly: true)
            try database.execute("BEGIN")
            _ = try database.scalar("SELECT count(*) FROM batches")
        }

        func end() throws {
            try database.execute("COMMIT")
        }
    }

    func files(_ path: String) -> Int {
        ["", "-wal"].reduce(0) { total, suffix in
            total + ((try? FileManager.default.attributesOfItem(atPath: path + suffix)[.size] as? Int) ?? 0)
        }
    }

    @Test("with a reader holding its snapshot, writes stop at max_size instead of growing the WAL; they resume after")
    func walCounted() throws {
        let path = try temporarySpoolPath()
        let bound = 4 << 20
        let spool = try SQLiteSpool(path: path, maxBytes: bound, destinations: otlp("otlp"))
        for _ in 0..<20 { try spool.enqueue(batch(.metrics, size: 64 << 10)) }
        let reader = try LongReader(path: path)
        var refused: SQLiteError?
        for _ in 0..<400 {
            do {
                try spool.enqueue(batch(.metrics, size: 64 << 10))
            } catch {
                refused = error
                break
            }
        }
        let error = try #require(refused, "the WAL must not grow without bound while the reader holds it")
        #expect(error.isWALHeld)
        #expect(error.message.contains("holds its write-ahead log"))
        #expect(spool.walBytes > SQLiteSpool.walAllowance)
        #expect(try spool.statistics().accountedBytes <= bound + 2 * (64 << 10), "the WAL counted, within one write")
        #expect(files(path) <= bound + 2 * (64 << 10) + SQLiteSpool.walAllowance, "database and WAL within the bound")
        try reader.end()
        try spool.enqueue(batch(.metrics, size: 64 << 10))
        #expect(spool.walBytes <= SQLiteSpool.walAllowance, "the WAL is emptied and truncated once the reader ends")
    }

    @Test("outpost spool inspect reads a page at a time: no snapshot stays open while it writes its lines")
    func inspectReadsInPages() throws {
        let path = try temporarySpoolPath()
        let spool = try SQLiteSpool(path: path, maxBytes: 1 << 30, destinations: otlp("otlp"))
        for _ in 0..<100 { try spool.enqueue(batch(.metrics, size: 4096)) }
        let reading = try SQLiteSpool(readOnlyPath: path)
        var seen = 0
        var walDuringRead: [Int] = []
        try reading.batches(limit: 100, pageSize: 10) { _ in
            seen += 1
            // While the reader is between rows, the writer fills and checkpoints the WAL as if nobody read.
            for _ in 0..<3 { try spool.enqueue(batch(.metrics, size: 64 << 10)) }
            walDuringRead.append(spool.walBytes)
        }
        #expect(seen == 100)
        #expect(walDuringRead.max() ?? 0 <= SQLiteSpool.walAllowance + (64 << 10) * 4, "\(walDuringRead.max() ?? 0)")
    }
}
