import CSQLite
import OutpostCore

/// What could be read back from a damaged spool.
package struct SpoolSalvage: Sendable, Equatable {
    package var batches = 0
    package var items = 0
    /// Row numbers that could not be read: at most this many batches are lost (some of them may have been
    /// delivered already, so the real loss can be smaller).
    package var unreadable = 0
    /// Batches that did not fit the new spool's `max_size` (oldest metrics first, as always).
    package var evicted: [SpoolEviction] = []
    /// Set when nothing at all could be read (the file's schema is gone or it is not a database).
    package var failure: String?

    package init() {}
}

extension SQLiteSpool {
    /// Calls `body` with every batch of the spool at `path` that can still be read, oldest first, stepping over rows
    /// that SQLite cannot read (a damaged page) instead of stopping at the first one. Returns how many row numbers
    /// were unreadable, and why nothing could be read when the file cannot be opened at all.
    ///
    /// `writable` lets SQLite replay the file's write-ahead log (a moved-aside spool has one after a crash); the
    /// spool tools open read-only, which is safe beside a running Outpost.
    package static func readBatches(at path: String, writable: Bool,
                                   _ body: (SpooledBatch) throws(SQLiteError) -> Void)
        -> (unreadable: Int, failure: String?, lastSequence: Int64)
    {
        let reader: SQLiteStatement
        let database: SQLiteDatabase
        do throws(SQLiteError) {
            database = try SQLiteDatabase(path: path, readOnly: !writable)
            let routing = try database.column("SELECT name FROM pragma_table_info('batches')").contains("routing")
            reader = try database.prepare("""
                SELECT seq, id, lane, signal, content_type, content_encoding, created, items, raw_bytes, payload, 0,
                       \(routing ? "routing" : "''")
                FROM batches WHERE seq > ? ORDER BY seq LIMIT 1
                """)
        } catch {
            return (0, error.description, 0)
        }
        // The highest row number ever used bounds the walk; without it, a long run of failures ends it.
        let last = (try? database.scalar("SELECT seq FROM sqlite_sequence WHERE name = 'batches'"))
            ?? (try? database.scalar("SELECT max(seq) FROM batches"))
        var cursor: Int64 = 0, unreadable = 0, failuresInARow = 0
        while failuresInARow < 100_000 {
            do throws(SQLiteError) {
                guard try reader.bind(.int(cursor)).step() else { break }
                cursor = reader.int(0)
                failuresInARow = 0
                // A row SQLite reads but that holds what no Outpost writes is unreadable too, and only that row.
                let row = try? spooled(reader, attemptsColumn: nil)
                // The read ends here, before `body` (writing a file) runs: a snapshot held across the whole walk
                // would keep a running spool's write-ahead log growing.
                _ = try? reader.bind(.int(cursor))
                guard let row else {
                    unreadable += 1
                    continue
                }
                try body(row)
            } catch {
                if error.isDiskFull || error.isAccessProblem { return (unreadable, error.description, cursor) }
                cursor += 1
                unreadable += 1
                failuresInARow += 1
                if let last, cursor >= last { break }
            }
        }
        return (unreadable, nil, max(cursor, last ?? 0))
    }

    /// Copies every readable batch of the damaged spool at `path` (moved aside) into this one, for the uplinks this
    /// spool serves, and counts what could not be read. Used right after a damaged spool was replaced.
    package func salvage(from path: String) -> SpoolSalvage {
        var salvage = SpoolSalvage()
        var pending: [SpooledBatch] = []
        let flush = { [self] () throws(SQLiteError) in
            salvage.evicted += try store(pending)
            salvage.batches += pending.count
            salvage.items += pending.reduce(0) { $0 + $1.batch.items }
            pending = []
        }
        let (unreadable, failure, last) = Self.readBatches(at: path, writable: true) { (spooled) throws(SQLiteError) in
            pending.append(spooled)
            if pending.count == 100 { try flush() }
        }
        do throws(SQLiteError) {
            try flush()
            try continueSequence(after: last)
            // What the uplinks spent this month survives the reset too: a fresh count would allow a second budget.
            if let spent = Self.readBudgets(at: path) { try saveBudgets(spent) }
        } catch {
            salvage.failure = error.description
        }
        salvage.unreadable = unreadable
        salvage.failure = salvage.failure ?? failure
        return salvage
    }

    /// The budgets table of the spool at `path`, when it can be read (a spool from before budgets has none).
    private static func readBudgets(at path: String) -> BudgetLedger? {
        guard let database = try? SQLiteDatabase(path: path, readOnly: false),
            (try? database.column("SELECT name FROM sqlite_master WHERE name = 'budgets'"))?.isEmpty == false
        else { return nil }
        return try? readBudgets(database)
    }

    /// New batches are numbered after every number the damaged spool used, so a number a delivery loop still holds
    /// from the old file never names a different batch in the new one.
    private func continueSequence(after last: Int64) throws(SQLiteError) {
        try database.transaction { () throws(SQLiteError) in
            let current = try database.scalar("SELECT max(seq) FROM batches")
            try database.prepare("DELETE FROM sqlite_sequence WHERE name = 'batches'").run()
            try database.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('batches', ?)")
                .bind(.int(max(current, last))).run()
        }
    }

    /// Stores `batches` in one transaction (one fsync for many, not one each), making room as `enqueue` does.
    private func store(_ batches: [SpooledBatch]) throws(SQLiteError) -> [SpoolEviction] {
        guard !batches.isEmpty else { return [] }
        return try database.transaction { () throws(SQLiteError) -> [SpoolEviction] in
            var evictions: [SpoolEviction] = []
            for spooled in batches {
                let batch = spooled.batch
                let size = batch.payload.count + Self.overheadPerBatch
                guard maxBytes == 0 || size <= maxBytes, let room = try makeRoom(for: size, lane: batch.lane) else {
                    let refused = SpoolEviction(lane: batch.lane, batches: 1, items: batch.items,
                                                bytes: batch.payload.count)
                    try recordDrop(refused)
                    evictions.append(refused)
                    continue
                }
                evictions += room
                try insert(batch, for: uplinks(accepting: batch.signal), sequence: spooled.sequence)
                accountedBytes += size
            }
            return evictions
        }
    }
}
