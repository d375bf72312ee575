import CSQLite

/// An SQLite result code with SQLite's message and the statement that failed.
package struct SQLiteError: Error, Sendable, CustomStringConvertible {
    package let code: Int32
    package let message: String
    package let sql: String?

    package init(code: Int32, message: String, sql: String?) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// The primary result code (SQLITE_FULL, SQLITE_CORRUPT, ...), without the extended bits.
    package var primaryCode: Int32 { code & 0xFF }
    package var isDiskFull: Bool { primaryCode == SQLITE_FULL }
    /// The spool's bound is reached because a reader holds the write-ahead log: a write waits until it lets go.
    package var isWALHeld: Bool { code == SQLiteError.walHeld }
    /// SQLITE_BUSY_SNAPSHOT's number, given to `walHeld` errors: a snapshot another connection holds is the cause.
    static let walHeld: Int32 = SQLITE_BUSY | (2 << 8)
    /// The file is not a usable spool (corrupt, not a database, another schema): move it aside, start a new one.
    package var isUnusableFile: Bool { [SQLITE_CORRUPT, SQLITE_NOTADB].contains(primaryCode) }
    /// The file or its folder cannot be opened or written (permissions, a read-only file system): the operator's to
    /// fix; moving the file aside would not help.
    package var isAccessProblem: Bool {
        [SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH].contains(primaryCode)
    }

    /// A database SQLite can read but that is not a spool this Outpost can use (another program's, another schema,
    /// a newer version): unusable, like a corrupt one.
    static func incompatible(_ message: String) -> SQLiteError {
        SQLiteError(code: SQLITE_NOTADB, message: message, sql: nil)
    }

    package var description: String {
        "sqlite error \(code): \(message)" + (sql.map { " (in `\($0.prefix(80))`)" } ?? "")
    }
}

/// One SQLite connection. Not thread-safe by itself: the spool confines it to one serial executor.
final class SQLiteDatabase {
    private let handle: OpaquePointer
    private var isOpen = true
    let path: String

    init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        var pointer: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let status = sqlite3_open_v2(path, &pointer, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let pointer else {
            let message = pointer.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let pointer { sqlite3_close_v2(pointer) }
            throw SQLiteError(code: status, message: message, sql: nil)
        }
        self.handle = pointer
        self.path = path
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, 5000)
    }

    deinit {
        close()
    }

    /// Closes the connection now (not at deinit), so the files can be moved aside safely: SQLite deletes the WAL by
    /// its name when the last connection closes. Every later call fails with SQLITE_MISUSE.
    func close() {
        guard isOpen else { return }
        isOpen = false
        sqlite3_close_v2(handle)
    }

    /// A checkpoint that copies the whole WAL into the database and truncates it, or nothing at all when another
    /// connection's read snapshot still needs the WAL: never waits for a reader. True when it completed.
    func checkpointWithoutWaiting() -> Bool {
        sqlite3_busy_timeout(handle, 0)
        defer { sqlite3_busy_timeout(handle, 5000) }
        var logFrames: Int32 = 0, copied: Int32 = 0
        let status = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_TRUNCATE, &logFrames, &copied)
        return status == SQLITE_OK
    }

    func execute(_ sql: String) throws(SQLiteError) {
        try checkOpen()
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        guard status == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(message)
            throw SQLiteError(code: status, message: text, sql: sql)
        }
    }

    func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        try checkOpen()
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else {
            throw SQLiteError(code: status, message: lastMessage, sql: sql)
        }
        return SQLiteStatement(handle: statement, sql: sql, database: self)
    }

    /// Runs `body` in a transaction that is rolled back if it throws.
    func transaction<T>(_ body: () throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The first column of the first row of `sql` as an integer (0 when there is no row).
    func scalar(_ sql: String) throws(SQLiteError) -> Int64 {
        let statement = try prepare(sql)
        guard try statement.step() else { return 0 }
        let value = statement.int(0)
        try statement.bind().run()
        return value
    }

    /// The first column of every row of `sql`, as text.
    func column(_ sql: String) throws(SQLiteError) -> [String] {
        let statement = try prepare(sql)
        var values: [String] = []
        while try statement.step() { values.append(statement.text(0)) }
        return values
    }

    private func checkOpen() throws(SQLiteError) {
        guard isOpen else { throw SQLiteError(code: SQLITE_MISUSE, message: "the spool was closed", sql: nil) }
    }

    var lastInsertID: Int64 { sqlite3_last_insert_rowid(handle) }
    var changes: Int { Int(sqlite3_changes(handle)) }
    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }
}

/// A prepared statement; bind with `bind`, read rows with `step` and the column getters.
final class SQLiteStatement {
    private let handle: OpaquePointer
    private let sql: String
    private let database: SQLiteDatabase

    fileprivate init(handle: OpaquePointer, sql: String, database: SQLiteDatabase) {
        self.handle = handle
        self.sql = sql
        self.database = database
    }

    deinit {
        sqlite3_finalize(handle)
    }

    enum Value {
        case int(Int64)
        case double(Double)
        case text(String)
        case blob([UInt8])
        case null
    }

    @discardableResult
    func bind(_ values: Value...) throws(SQLiteError) -> SQLiteStatement {
        try bind(values: values)
    }

    @discardableResult
    func bind(values: [Value]) throws(SQLiteError) -> SQLiteStatement {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .int(let number): status = sqlite3_bind_int64(handle, index, number)
            case .double(let number): status = sqlite3_bind_double(handle, index, number)
            case .text(let text): status = outpost_sqlite3_bind_text_copy(handle, index, text)
            case .blob(let bytes):
                status = bytes.withUnsafeBytes { outpost_sqlite3_bind_blob_copy(handle, index, $0.baseAddress, Int32($0.count)) }
            case .null: status = sqlite3_bind_null(handle, index)
            }
            guard status == SQLITE_OK else { throw SQLiteError(code: status, message: database.lastMessage, sql: sql) }
        }
        return self
    }

    /// Advances to the next row; false when there are no more.
    func step() throws(SQLiteError) -> Bool {
        let status = sqlite3_step(handle)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE:
            sqlite3_reset(handle)
            return false
        default:
            let message = database.lastMessage
            sqlite3_reset(handle)
            throw SQLiteError(code: status, message: message, sql: sql)
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws(SQLiteError) {
        while try step() {}
    }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: pointer)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
