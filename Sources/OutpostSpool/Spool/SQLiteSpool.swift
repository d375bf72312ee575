import CSQLite
import OutpostCore

#if canImport(Glibc)
import Glibc
#endif

/// The durable queue between encoding and the uplinks: SQLite in WAL mode, three lanes, bounded in bytes.
///
/// - Durability: each batch is one transaction with `synchronous = FULL`, so a batch the spool has accepted survives
///   a crash (kill -9) and a power cut. A batch is written once, whole: the SD card sees batches, not samples.
/// - Order and bound follow the spool's one policy (`SpoolPolicy`): a delivery plan's steps become queries here, and
///   when `max_size` would be exceeded its eviction rule chooses (the oldest metrics first, alerts last). Every drop
///   is counted (persistently) and returned to the caller to report.
/// - Delivery: a batch carries one delivery row per uplink that accepts its signal (`SpoolDestination`), and leaves
///   the spool when the last of them has delivered (or permanently rejected) it.
///
/// Not thread-safe: `SpoolHandle` confines it to one serial executor.
package final class SQLiteSpool {
    /// A per-batch allowance for row and index overhead in the size bound.
    static let overheadPerBatch = 128
    /// The WAL is copied into the main file once it holds this many pages (128 KiB), not SQLite's 1000 (4 MiB): what
    /// a checkpoint needs on a full disk stays within the reserve (`SpoolReserve`), so the spool can always drain.
    static let walCheckpointPages = 32
    /// Bytes of WAL that belong to normal operation (it is emptied every `walCheckpointPages` and truncated to this
    /// size, `journal_size_limit`); beyond it, the WAL counts against `max_size`.
    static let walAllowance = 512 * 1024

    package let path: String
    package let maxBytes: Int
    package let destinations: [SpoolDestination]
    /// Which batches give way when the bound is reached (`SpoolPolicy.eviction`).
    package let eviction: EvictionRule
    let database: SQLiteDatabase
    var accountedBytes = 0
    let reserve: SpoolReserve

    /// Opens (or creates) the spool at `path` for `destinations`.
    package init(path: String, maxBytes: Int, destinations: [SpoolDestination], eviction: EvictionRule = EvictionRule())
        throws(SQLiteError)
    {
        self.path = path
        self.maxBytes = maxBytes
        self.destinations = destinations
        self.eviction = eviction
        reserve = SpoolReserve(spoolPath: path)
        database = try SQLiteDatabase(path: path)
        try checkCompatible()
        try database.execute("""
            PRAGMA application_id = \(Self.applicationID);
            PRAGMA user_version = \(Self.schemaVersion);
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            PRAGMA wal_autocheckpoint = \(Self.walCheckpointPages);
            PRAGMA journal_size_limit = \(Self.walAllowance);
            PRAGMA cache_size = -\(Self.pageCacheKiB);
            PRAGMA foreign_keys = ON;
            CREATE TABLE IF NOT EXISTS batches (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                lane INTEGER NOT NULL,
                signal TEXT NOT NULL,
                content_type TEXT NOT NULL,
                content_encoding TEXT NOT NULL,
                created INTEGER NOT NULL,
                items INTEGER NOT NULL,
                raw_bytes INTEGER NOT NULL,
                payload BLOB NOT NULL
            );
            CREATE INDEX IF NOT EXISTS batches_by_lane ON batches (lane, seq);
            CREATE TABLE IF NOT EXISTS deliveries (
                seq INTEGER NOT NULL REFERENCES batches (seq) ON DELETE CASCADE,
                uplink TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                PRIMARY KEY (seq, uplink)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS deliveries_by_uplink ON deliveries (uplink, seq);
            CREATE TABLE IF NOT EXISTS drops (
                lane INTEGER PRIMARY KEY,
                batches INTEGER NOT NULL DEFAULT 0,
                items INTEGER NOT NULL DEFAULT 0,
                bytes INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE IF NOT EXISTS budgets (
                uplink TEXT NOT NULL,
                period TEXT NOT NULL,
                period_start INTEGER NOT NULL,
                bytes INTEGER NOT NULL,
                PRIMARY KEY (uplink, period)
            ) WITHOUT ROWID;
            """)
        try addRoutingColumnIfMissing()
        try reconcileDeliveries()
        accountedBytes = try totalAccountedBytes()
        reserve.take()
    }

    /// SQLite's page cache, in KiB (its default is 2 MiB): the spool appends and deletes whole batches and reads each
    /// once, so a small cache costs no reads worth measuring and keeps 1.5 MiB of heap off a small gateway.
    static let pageCacheKiB = 512

    /// Marks Outpost's spool files (`PRAGMA application_id`, "OUTP"), so another program's database is told apart.
    package static let applicationID: Int32 = 0x4F55_5450
    /// The layout this Outpost writes (`PRAGMA user_version`); a spool from a newer Outpost is not guessed at.
    /// 2 added the `budgets` table (what each uplink spent in its budget periods); a version 1 file gains it.
    package static let schemaVersion: Int32 = 2

    /// Refuses a database that is not a spool this Outpost can use, before anything is written to it: another
    /// program's (its application id, or tables and columns a spool does not have), or one from a newer Outpost.
    /// A damaged one is caught too: `quick_check` reads every page once, so damage found here is salvaged at start
    /// rather than met half-way through a delivery.
    private func checkCompatible() throws(SQLiteError) {
        let application = Int32(truncatingIfNeeded: try database.scalar("PRAGMA application_id"))
        if application != 0, application != Self.applicationID {
            throw .incompatible("\(path) belongs to another program (SQLite application_id \(application))")
        }
        let version = try database.scalar("PRAGMA user_version")
        if version > Int64(Self.schemaVersion) {
            throw .incompatible("\(path) was written by a newer Outpost (spool schema \(version); this one reads "
                + "up to \(Self.schemaVersion))")
        }
        for (table, required) in Self.requiredColumns {
            let columns = try database.column("SELECT name FROM pragma_table_info('\(table)')")
            let missing = required.filter { !columns.contains($0) }
            if !columns.isEmpty, !missing.isEmpty {
                throw .incompatible("\(path) has a table `\(table)` without the column(s) "
                    + "\(missing.joined(separator: ", ")): another program's database or an incompatible spool")
            }
        }
        let tables = try database.column(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        let foreign = tables.filter { Self.requiredColumns[$0] == nil }
        if !foreign.isEmpty {
            throw .incompatible("\(path) holds table(s) a spool does not have (\(foreign.joined(separator: ", "))): "
                + "another program's database")
        }
        let check = try database.column("PRAGMA quick_check(1)")
        if check != ["ok"] {
            throw SQLiteError(code: SQLITE_CORRUPT, message: "\(path) is damaged: \(check.first ?? "?")", sql: nil)
        }
    }

    private static let requiredColumns: [String: [String]] = [
        "batches": ["seq", "id", "lane", "signal", "content_type", "content_encoding", "created", "items",
                    "raw_bytes", "payload"],
        "deliveries": ["seq", "uplink", "attempts", "next_attempt", "last_error"],
        "drops": ["lane", "batches", "items", "bytes"],
        "budgets": ["uplink", "period", "period_start", "bytes"],
    ]

    /// True when the file at `path` starts like one of Outpost's spools: an SQLite header carrying Outpost's
    /// application id. Read from the raw header, so it works on a file SQLite can no longer open.
    package static func isOutpostDatabase(_ path: String) -> Bool {
        guard let head = OwnedFile.head(path, count: 72), head.count == 72,
            head.starts(with: Array("SQLite format 3".utf8) + [0])
        else { return false }
        let id = head[68..<72].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return Int32(bitPattern: id) == applicationID
    }

    /// Closes the database now, before its files are moved aside. The spool cannot be used afterwards.
    package func close() {
        database.close()
    }

    /// Spools written before batches carried a routing key gain the column (empty for their batches).
    private func addRoutingColumnIfMissing() throws(SQLiteError) {
        let columns = try database.prepare("PRAGMA table_info(batches)")
        var names: [String] = []
        while try columns.step() { names.append(columns.text(1)) }
        if !names.contains("routing") {
            try database.execute("ALTER TABLE batches ADD COLUMN routing TEXT NOT NULL DEFAULT ''")
        }
    }

    /// Opens an existing spool read-only, for `outpost spool stats` and `inspect` beside a running runtime.
    package init(readOnlyPath path: String) throws(SQLiteError) {
        self.path = path
        self.maxBytes = 0
        self.destinations = []
        self.eviction = EvictionRule()
        reserve = SpoolReserve(spoolPath: path)
        database = try SQLiteDatabase(path: path, readOnly: true)
        accountedBytes = try totalAccountedBytes()
    }

    // MARK: writing

    /// Stores `batch` durably for every uplink that accepts its signal, evicting older batches if the bound requires
    /// it. Returns what was evicted (possibly `batch` itself, when it can never fit).
    @discardableResult
    package func enqueue(_ batch: Batch, for uplinks: [String]? = nil) throws(SQLiteError) -> [SpoolEviction] {
        reserve.take()
        let size = batch.payload.count + Self.overheadPerBatch
        if maxBytes > 0, size > maxBytes {
            let eviction = SpoolEviction(lane: batch.lane, batches: 1, items: batch.items, bytes: batch.payload.count)
            try database.transaction { () throws(SQLiteError) in try recordDrop(eviction) }
            return [eviction]
        }
        try checkWALRoom(for: size)
        return try database.transaction { () throws(SQLiteError) -> [SpoolEviction] in
            guard let evictions = try makeRoom(for: size, lane: batch.lane) else {
                let refused = SpoolEviction(lane: batch.lane, batches: 1, items: batch.items,
                                            bytes: batch.payload.count)
                try recordDrop(refused)
                return [refused]
            }
            try insert(batch, for: uplinks ?? self.uplinks(accepting: batch.signal))
            accountedBytes += size
            return evictions
        }
    }

    /// The WAL counts against the bound. It grows past its allowance only while another connection holds a read
    /// snapshot (a long `outpost spool inspect`, a backup, `sqlite3` left open): SQLite cannot recycle it until that
    /// reader lets go, and every write, evictions included, only makes it longer. So when the WAL's excess would take
    /// the spool past `max_size`, the write is refused (the spool service keeps the batch in memory, bounded, and
    /// tries again every 5 s) rather than letting the files outgrow the bound on an SD card.
    private func checkWALRoom(for size: Int) throws(SQLiteError) {
        guard maxBytes > 0, walExcess > 0, accountedBytes + size + walExcess > maxBytes else { return }
        if database.checkpointWithoutWaiting(), walExcess == 0 { return }
        guard accountedBytes + size + walExcess > maxBytes else { return }
        throw SQLiteError(code: SQLiteError.walHeld, message: "another reader of \(path) (a long `outpost spool "
            + "inspect`, a backup, an open sqlite3) holds its write-ahead log at \(walBytes) bytes; with it the spool "
            + "would pass max_size (\(maxBytes) bytes)", sql: nil)
    }

    /// The size of the write-ahead log file now.
    var walBytes: Int {
        var info = stat()
        return stat(path + "-wal", &info) == 0 ? Int(info.st_size) : 0
    }

    /// What the WAL holds beyond its allowance: counted against `max_size`.
    var walExcess: Int { max(0, walBytes - Self.walAllowance) }

    /// Inserts `batch`; `sequence` keeps a salvaged batch's place in line (and the number a delivery loop may
    /// still hold for it), nil takes the next one.
    func insert(_ batch: Batch, for destinations: [String], sequence: Int64? = nil) throws(SQLiteError) {
        try database.prepare("""
            INSERT INTO batches (seq, id, lane, signal, content_type, content_encoding, created, items, raw_bytes,
                                 payload, routing)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).bind(sequence.map { .int($0) } ?? .null, .text(batch.id), .int(Int64(batch.lane.rawValue)),
                      .text(batch.signal.rawValue), .text(batch.contentType),
                      .text(batch.contentEncoding.rawValue), .int(batch.created), .int(Int64(batch.items)),
                      .int(Int64(batch.uncompressedBytes)), .blob(batch.payload), .text(batch.routing)).run()
        let sequence = database.lastInsertID
        let delivery = try database.prepare("INSERT INTO deliveries (seq, uplink) VALUES (?, ?)")
        for uplink in destinations {
            try delivery.bind(.int(sequence), .text(uplink)).run()
        }
    }

    /// Makes room for a new batch of `size` bytes in `lane` by the policy's rule (`EvictionRule.admit`): batches of
    /// its own lane or less important ones go, oldest first. Nil, with nothing evicted, when it cannot fit that way.
    func makeRoom(for size: Int, lane: Lane) throws(SQLiteError) -> [SpoolEviction]? {
        guard maxBytes > 0, accountedBytes + size > maxBytes else { return [] }
        let lanes = eviction.displaceable(by: lane)
        let available = try database.prepare("""
            SELECT coalesce(sum(length(payload)), 0) + count(*) * \(Self.overheadPerBatch) FROM batches
            WHERE lane IN (\(Self.laneList(Set(lanes))))
            """)
        _ = try available.step()
        let displaceable = Int(available.int(0))
        try available.bind().run()
        guard accountedBytes + size - displaceable <= maxBytes else { return nil }
        var evictions: [Lane: SpoolEviction] = [:]
        let oldest = try database.prepare(
            "SELECT seq, items, length(payload) FROM batches WHERE lane = ? ORDER BY seq LIMIT 1")
        let delete = try database.prepare("DELETE FROM batches WHERE seq = ?")
        for victimLane in lanes {
            while accountedBytes + size > maxBytes, try oldest.bind(.int(Int64(victimLane.rawValue))).step() {
                let sequence = oldest.int(0), items = Int(oldest.int(1)), bytes = Int(oldest.int(2))
                try oldest.bind(.int(-1)).run()
                try delete.bind(.int(sequence)).run()
                accountedBytes -= bytes + Self.overheadPerBatch
                let previous = evictions[victimLane]
                evictions[victimLane] = SpoolEviction(lane: victimLane, batches: (previous?.batches ?? 0) + 1,
                                                      items: (previous?.items ?? 0) + items,
                                                      bytes: (previous?.bytes ?? 0) + bytes)
            }
        }
        for eviction in evictions.values { try recordDrop(eviction) }
        return evictions.values.sorted { $0.lane > $1.lane }
    }

    /// Counts a batch an uplink refused for good before it was ever stored (it was offered from memory).
    package func recordRejected(_ batch: Batch) throws(SQLiteError) {
        let eviction = SpoolEviction(lane: batch.lane, batches: 1, items: batch.items, bytes: batch.payload.count)
        try database.transaction { () throws(SQLiteError) in try recordDrop(eviction) }
    }

    func recordDrop(_ eviction: SpoolEviction) throws(SQLiteError) {
        try database.prepare("""
            INSERT INTO drops (lane, batches, items, bytes) VALUES (?, ?, ?, ?)
            ON CONFLICT (lane) DO UPDATE SET batches = batches + excluded.batches, items = items + excluded.items,
                bytes = bytes + excluded.bytes
            """).bind(.int(Int64(eviction.lane.rawValue)), .int(Int64(eviction.batches)), .int(Int64(eviction.items)),
                      .int(Int64(eviction.bytes))).run()
    }

    // MARK: delivery

    /// The next batch `uplink` should send at `now` in plain sending order (alerts, events, metrics, oldest first),
    /// skipping batches in backoff: for the tools and tests; delivery loops ask by plan.
    package func next(for uplink: String, now: Int64, lanes: [Lane] = Lane.allCases)
        throws(SQLiteError) -> SpooledBatch?
    {
        try first(for: uplink, in: DeliveryStep(lanes: Set(lanes)), notDeferredPast: now)
    }

    /// The next batch for `uplink` by `plan`: the first step that finds one. A delivery loop backs off as a whole, so
    /// a batch's own `next_attempt` does not hold it back here: that would let later batches overtake it and break
    /// first-in-first-out.
    package func next(for uplink: String, plan: DeliveryPlan) throws(SQLiteError) -> SpooledBatch? {
        for step in plan.steps {
            if let found = try first(for: uplink, in: step) { return found }
        }
        return nil
    }

    /// The batch `step` puts first for `uplink`; with `notDeferredPast`, only batches due by then.
    package func first(for uplink: String, in step: DeliveryStep, notDeferredPast now: Int64? = nil)
        throws(SQLiteError) -> SpooledBatch?
    {
        guard !step.lanes.isEmpty else { return nil }
        var sql = """
            SELECT b.seq, b.id, b.lane, b.signal, b.content_type, b.content_encoding, b.created, b.items, b.raw_bytes,
                   b.payload, d.attempts, b.routing
            FROM deliveries d JOIN batches b ON b.seq = d.seq
            WHERE d.uplink = ? AND b.lane IN (\(Self.laneList(step.lanes)))
            """
        var values: [SQLiteStatement.Value] = [.text(uplink)]
        if let since = step.createdSince {
            sql += " AND b.created >= ?"
            values.append(.int(since))
        }
        if let now {
            sql += " AND d.next_attempt <= ?"
            values.append(.int(now))
        }
        let statement = try database.prepare(sql + " ORDER BY " + Self.ordering(step) + " LIMIT 1")
        try statement.bind(values: values)
        guard try statement.step() else { return nil }
        return try Self.spooled(statement, attemptsColumn: 10)
    }

    /// The SQL ordering of a step (`DeliveryStep.precedes`): lanes by priority, then the stored order (the sequence
    /// number), ascending or descending.
    static func ordering(_ step: DeliveryStep, table: String = "b.") -> String {
        "\(table)lane, \(table)seq" + (step.order == .newestFirst ? " DESC" : "")
    }

    static func laneList(_ lanes: Set<Lane>) -> String {
        lanes.map { String($0.rawValue) }.sorted().joined(separator: ",")
    }

    /// `uplink` delivered the batch: it leaves the spool once no uplink still needs it.
    package func delivered(_ sequence: Int64, by uplink: String) throws(SQLiteError) {
        try settling { () throws(SQLiteError) in
            try database.transaction { () throws(SQLiteError) in
                try database.prepare("DELETE FROM deliveries WHERE seq = ? AND uplink = ?")
                    .bind(.int(sequence), .text(uplink)).run()
                try deleteIfDone(sequence)
            }
        }
    }

    /// Runs a settle; on a full disk, gives back the reserve and empties the WAL into the main file (where deleted
    /// batches leave free pages), tries once more, then empties the WAL again and takes the reserve back if it can.
    private func settling(_ body: () throws(SQLiteError) -> Void) throws(SQLiteError) {
        do {
            try body()
        } catch where error.isDiskFull {
            _ = reserve.release()
            try? database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            try body()
            try? database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            reserve.take()
        }
    }

    /// `uplink` could not deliver now: try again at `nextAttempt`.
    package func deferred(_ sequence: Int64, by uplink: String, until nextAttempt: Int64, error: String)
        throws(SQLiteError)
    {
        try settling { () throws(SQLiteError) in
            try database.prepare("""
                UPDATE deliveries SET attempts = attempts + 1, next_attempt = ?, last_error = ?
                WHERE seq = ? AND uplink = ?
                """).bind(.int(nextAttempt), .text(error), .int(sequence), .text(uplink)).run()
        }
    }

    /// `uplink` rejected the batch for good (a permanent error): it is dropped for that uplink and counted.
    package func rejected(_ sequence: Int64, by uplink: String) throws(SQLiteError) {
        try settling { () throws(SQLiteError) in try rejectOnce(sequence, by: uplink) }
    }

    private func rejectOnce(_ sequence: Int64, by uplink: String) throws(SQLiteError) {
        try database.transaction { () throws(SQLiteError) in
            let batch = try database.prepare("SELECT lane, items, length(payload) FROM batches WHERE seq = ?")
            guard try batch.bind(.int(sequence)).step() else { return }
            let eviction = SpoolEviction(lane: Lane(rawValue: Int(batch.int(0))) ?? .metrics, batches: 1,
                                         items: Int(batch.int(1)), bytes: Int(batch.int(2)))
            try batch.bind(.int(-1)).run()
            try database.prepare("DELETE FROM deliveries WHERE seq = ? AND uplink = ?")
                .bind(.int(sequence), .text(uplink)).run()
            try recordDrop(eviction)
            try deleteIfDone(sequence)
        }
    }

    private func deleteIfDone(_ sequence: Int64) throws(SQLiteError) {
        let remaining = try database.prepare("SELECT count(*) FROM deliveries WHERE seq = ?")
        _ = try remaining.bind(.int(sequence)).step()
        let count = remaining.int(0)
        try remaining.bind(.int(-1)).run()
        guard count == 0, !uplinks.isEmpty else { return }
        let size = try database.prepare("SELECT length(payload) FROM batches WHERE seq = ?")
        guard try size.bind(.int(sequence)).step() else { return }
        let bytes = Int(size.int(0))
        try size.bind(.int(-1)).run()
        try database.prepare("DELETE FROM batches WHERE seq = ?").bind(.int(sequence)).run()
        accountedBytes -= bytes + Self.overheadPerBatch
    }

    // MARK: reading

    package func statistics() throws(SQLiteError) -> SpoolStatistics {
        var statistics = SpoolStatistics(accountedBytes: accountedBytes + walExcess, maxBytes: maxBytes)
        let held = try database.prepare(
            "SELECT lane, count(*), sum(items), sum(length(payload)), min(created) FROM batches GROUP BY lane")
        while try held.step() {
            guard let lane = Lane(rawValue: Int(held.int(0))) else { continue }
            var entry = statistics[lane]
            entry.batches = Int(held.int(1))
            entry.items = Int(held.int(2))
            entry.bytes = Int(held.int(3))
            entry.oldest = held.int(4)
            statistics.lanes[lane] = entry
        }
        let waiting = try database.prepare("""
            SELECT d.uplink, b.lane, count(*), sum(length(b.payload))
            FROM deliveries d JOIN batches b ON b.seq = d.seq GROUP BY d.uplink, b.lane
            """)
        while try waiting.step() {
            guard let lane = Lane(rawValue: Int(waiting.int(1))) else { continue }
            statistics.waiting[waiting.text(0), default: [:]][lane] =
                SpoolStatistics.Waiting(batches: Int(waiting.int(2)), bytes: Int(waiting.int(3)))
        }
        let dropped = try database.prepare("SELECT lane, batches, items, bytes FROM drops")
        while try dropped.step() {
            guard let lane = Lane(rawValue: Int(dropped.int(0))) else { continue }
            var entry = statistics[lane]
            entry.droppedBatches = Int(dropped.int(1))
            entry.droppedItems = Int(dropped.int(2))
            entry.droppedBytes = Int(dropped.int(3))
            statistics.lanes[lane] = entry
        }
        return statistics
    }

    /// Batches in sending order (`SpoolPolicy.listing`: alerts first), for `outpost spool inspect` and `export`.
    package func batches(limit: Int) throws(SQLiteError) -> [SpooledBatch] {
        var result: [SpooledBatch] = []
        try batches(limit: limit) { result.append($0) }
        return result
    }

    /// Hands `body` up to `limit` batches in sending order, read a page at a time: each page is a short read of its
    /// own, and none is open while `body` runs (writing a line to a pipe nobody reads, a file). A reader that held
    /// one snapshot for the whole walk would keep the running spool's write-ahead log growing all along.
    package func batches(limit: Int, pageSize: Int = 32, _ body: (SpooledBatch) throws -> Void) throws(SQLiteError) {
        let page = try database.prepare("""
            SELECT seq, id, lane, signal, content_type, content_encoding, created, items, raw_bytes, payload, 0, routing
            FROM batches WHERE lane > ? OR (lane = ? AND seq > ?) ORDER BY lane, seq LIMIT ?
            """)
        var lane: Int64 = -1, sequence: Int64 = 0, handed = 0
        while handed < limit {
            try page.bind(.int(lane), .int(lane), .int(sequence), .int(Int64(min(pageSize, limit - handed))))
            var rows: [SpooledBatch] = []
            while try page.step() {
                lane = page.int(2)
                sequence = page.int(0)
                rows.append(try Self.spooled(page, attemptsColumn: nil))
            }
            try page.bind(.int(-1), .int(-1), .int(0), .int(0))  // reset: the read ends before the rows are used
            guard !rows.isEmpty else { return }
            for row in rows {
                do {
                    try body(row)
                } catch {
                    throw SQLiteError(code: SQLITE_ERROR, message: "\(error)", sql: nil)
                }
                handed += 1
            }
        }
    }

    /// Removes every batch (drop counters stay). Returns how many were removed.
    @discardableResult
    package func purge() throws(SQLiteError) -> Int {
        try database.transaction { () throws(SQLiteError) -> Int in
            try database.execute("DELETE FROM batches")
            accountedBytes = 0
            return database.changes
        }
    }

    // MARK: budgets

    /// What each uplink spent in its budget periods, as last saved.
    package func budgets() throws(SQLiteError) -> BudgetLedger {
        try Self.readBudgets(database)
    }

    static func readBudgets(_ database: SQLiteDatabase) throws(SQLiteError) -> BudgetLedger {
        var entries: [BudgetLedger.Key: BudgetLedger.Spend] = [:]
        let statement = try database.prepare("SELECT uplink, period, period_start, bytes FROM budgets")
        while try statement.step() {
            guard let kind = BudgetPeriodKind(rawValue: statement.text(1)) else { continue }
            entries[BudgetLedger.Key(uplink: statement.text(0), kind: kind)] =
                BudgetLedger.Spend(periodStart: statement.int(2), bytes: statement.int(3))
        }
        return BudgetLedger(entries: entries)
    }

    /// Saves what each uplink spent, in one transaction; a saved later period is never replaced by an earlier one.
    package func saveBudgets(_ ledger: BudgetLedger) throws(SQLiteError) {
        try settling { () throws(SQLiteError) in
            try database.transaction { () throws(SQLiteError) in
                let upsert = try database.prepare("""
                    INSERT INTO budgets (uplink, period, period_start, bytes) VALUES (?, ?, ?, ?)
                    ON CONFLICT (uplink, period) DO UPDATE SET period_start = excluded.period_start,
                        bytes = excluded.bytes
                    WHERE excluded.period_start >= budgets.period_start
                    """)
                for (key, spend) in ledger.entries {
                    try upsert.bind(.text(key.uplink), .text(key.kind.rawValue), .int(spend.periodStart),
                                    .int(spend.bytes)).run()
                }
            }
        }
    }

    private func totalAccountedBytes() throws(SQLiteError) -> Int {
        let statement = try database.prepare("SELECT count(*), coalesce(sum(length(payload)), 0) FROM batches")
        _ = try statement.step()
        let total = Int(statement.int(1)) + Int(statement.int(0)) * Self.overheadPerBatch
        try statement.bind().run()
        return total
    }

    /// The names of the uplinks, in configuration order.
    package var uplinks: [String] { destinations.map(\.uplink) }

    /// The uplinks a batch of `signal` is for.
    func uplinks(accepting signal: Signal) -> [String] {
        destinations.filter { $0.accepts.contains(signal) }.map(\.uplink)
    }

    /// Brings the delivery rows of an existing file in line with the current destinations, in one transaction:
    /// - rows for uplinks no longer configured would pin their batches forever: forgotten;
    /// - rows for a signal the uplink does not accept (routed by an older Outpost's name rule, where an uplink named
    ///   `alerts.<anything>` got alert documents instead of OTLP, or for an uplink whose kind changed) are
    ///   forgotten;
    /// - batches no uplink wants any more (stored while none was configured, meant for a removed one, or just
    ///   forgotten above) are adopted by every current uplink that accepts their signal, rather than deleted: the
    ///   spool never throws data away except to stay within its bound.
    private func reconcileDeliveries() throws(SQLiteError) {
        let known = uplinks.map { "'\($0.replacingQuotes())'" }.joined(separator: ",")
        try database.transaction { () throws(SQLiteError) in
            try database.execute("DELETE FROM deliveries WHERE uplink NOT IN (\(known))")
            for destination in destinations {
                try database.prepare("""
                    DELETE FROM deliveries WHERE uplink = ?
                    AND seq IN (SELECT seq FROM batches WHERE signal NOT IN (\(destination.signalList)))
                    """).bind(.text(destination.uplink)).run()
            }
            for destination in destinations {
                try database.prepare("""
                    INSERT INTO deliveries (seq, uplink)
                    SELECT seq, ? FROM batches
                    WHERE seq NOT IN (SELECT seq FROM deliveries) AND signal IN (\(destination.signalList))
                    """).bind(.text(destination.uplink)).run()
            }
        }
    }

    /// Caps the database at `pages` pages, so tests can make the disk "full" (SQLITE_FULL) on demand.
    func limitPagesForTesting(_ pages: Int) throws(SQLiteError) {
        try database.execute("PRAGMA max_page_count = \(pages)")
    }

    func pageCountForTesting() throws(SQLiteError) -> Int {
        let statement = try database.prepare("PRAGMA page_count")
        _ = try statement.step()
        return Int(statement.int(0))
    }

    /// The batch in `row`. A signal, content type or encoding no Outpost writes is damage (the file was changed
    /// behind Outpost's back): it is reported as SQLITE_CORRUPT, so the spool is replaced and salvaged as for any
    /// other damage, and the row counted unreadable, rather than guessed at or sent.
    static func spooled(_ row: SQLiteStatement, attemptsColumn: Int32?) throws(SQLiteError) -> SpooledBatch {
        let sequence = row.int(0)
        let (signal, contentType, encoding) = (row.text(3), row.text(4), row.text(5))
        guard let known = Signal(rawValue: signal), let format = PayloadFormat(contentType: contentType, signal: known),
            let contentEncoding = ContentEncoding(rawValue: encoding)
        else {
            throw SQLiteError(code: SQLITE_CORRUPT, message: "batch \(sequence) has signal `\(signal)`, content type "
                + "`\(contentType)` and encoding `\(encoding)`, which no Outpost writes", sql: nil)
        }
        let batch = Batch(id: row.text(1), lane: Lane(rawValue: Int(row.int(2))) ?? .metrics, signal: known,
                          format: format, contentEncoding: contentEncoding, created: row.int(6),
                          items: Int(row.int(7)), uncompressedBytes: Int(row.int(8)), payload: row.blob(9),
                          routing: row.text(11))
        return SpooledBatch(sequence: sequence, batch: batch, attempts: attemptsColumn.map { Int(row.int($0)) } ?? 0)
    }

    /// Moves an unusable database file (and its WAL and shared-memory files) aside, returning the new name.
    package static func moveAside(_ path: String, now: Int64) -> String {
        let target = "\(path).unusable-\(now / 1_000_000_000)"
        for suffix in ["", "-wal", "-shm"] {
            _ = rename(path + suffix, target + suffix)
        }
        return target
    }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''")
    }
}
