import Foundation
import OutpostTestSupport
import OutpostCore
import Testing
@testable import OutpostSpool

/// Runs SQL through the sqlite3 shell, the way another program (or an operator) would touch the file.
func sqlite(_ path: String, _ sql: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()",
                         path, sql]
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "sql on \(path): \(sql)")
}

/// A spool of `count` metric batches of 3000 bytes each (one per page), checkpointed into the main file and closed.
func filledSpool(_ count: Int) throws -> String {
    let path = try temporarySpoolPath()
    do {
        let spool = try SQLiteSpool(path: path, maxBytes: 64 << 20, destinations: otlp("otlp"))
        for index in 0..<count { try spool.enqueue(batch(.metrics, id: "m\(index)", size: 3000)) }
        spool.close()
    }
    return path
}

@Suite("Damaged spool files")
struct DamagedSpoolTests {
    @Test("another program's tables (a table `batches` without the spool's columns) make the file unusable")
    func foreignSchema() throws {
        let path = try temporarySpoolPath()
        try sqlite(path, "CREATE TABLE batches (x); INSERT INTO batches VALUES (1);")
        let error = try #require(throws: SQLiteError.self) {
            _ = try SQLiteSpool(path: path, maxBytes: 1 << 20, destinations: otlp("otlp"))
        }
        #expect(error.isUnusableFile)
        #expect(error.message.contains(path) && error.message.contains("lane"), "\(error)")
    }

    @Test("a database with unknown tables, another application id or a newer schema version is unusable")
    func otherDatabases() throws {
        for sql in ["CREATE TABLE users (name TEXT);", "PRAGMA application_id = 42;", "PRAGMA user_version = 9;"] {
            let path = try temporarySpoolPath()
            try sqlite(path, sql)
            #expect(!SQLiteSpool.isOutpostDatabase(path))
            let error = try #require(throws: SQLiteError.self, "\(sql)") {
                _ = try SQLiteSpool(path: path, maxBytes: 1 << 20, destinations: otlp("otlp"))
            }
            #expect(error.isUnusableFile, "\(sql): \(error)")
        }
    }

    @Test("Outpost marks its spool, so it is recognised even when SQLite can no longer open it")
    func marked() throws {
        let path = try filledSpool(1)
        #expect(SQLiteSpool.isOutpostDatabase(path))
        try garble(path, at: 100, count: 3000)
        #expect(SQLiteSpool.isOutpostDatabase(path))
    }

    @Test("one damaged page is found at open, and every other batch is salvaged into a new spool")
    func salvageOneBadPage() throws {
        let path = try filledSpool(40)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        try garble(path, at: size / 2 / 4096 * 4096, count: 4096)
        let error = try #require(throws: SQLiteError.self) {
            _ = try SQLiteSpool(path: path, maxBytes: 64 << 20, destinations: otlp("otlp"))
        }
        #expect(error.isUnusableFile, "\(error)")
        let aside = SQLiteSpool.moveAside(path, now: 1_700_000_000_000_000_000)
        let fresh = try SQLiteSpool(path: path, maxBytes: 64 << 20, destinations: otlp("otlp"))
        let salvage = fresh.salvage(from: aside)
        #expect(salvage.failure == nil)
        #expect(salvage.batches >= 35, "\(salvage)")
        #expect(salvage.unreadable >= 1 && salvage.batches + salvage.unreadable >= 40, "\(salvage)")
        #expect(salvage.items == salvage.batches * 10)
        var sent: [Int64] = []
        while let next = try fresh.next(for: "otlp", now: 0) {
            sent.append(next.sequence)
            try fresh.delivered(next.sequence, by: "otlp")
        }
        #expect(sent.count == salvage.batches)
        #expect(sent == sent.sorted(), "salvaged batches keep their order")
        try fresh.enqueue(batch(.metrics, id: "new"))
        let newest = try #require(try fresh.next(for: "otlp", now: 0))
        #expect(newest.sequence > 40, "new batches are numbered after every number the old file used")
    }

    @Test("`spool export` style reading steps over unreadable rows instead of stopping at the first")
    func readPastDamage() throws {
        let path = try filledSpool(40)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        try garble(path, at: size / 2 / 4096 * 4096, count: 4096)
        var ids: [String] = []
        let result = SQLiteSpool.readBatches(at: path, writable: false) { ids.append($0.batch.id) }
        #expect(result.failure == nil)
        #expect(ids.count >= 35 && ids.count < 40, "\(ids.count) read, \(result.unreadable) unreadable")
        #expect(ids.first == "m0" && ids.last == "m39")
    }

    @Test("a file whose header is garbage yields nothing to salvage, and says why")
    func nothingToSalvage() throws {
        let path = try filledSpool(3)
        try garble(path, at: 0, count: 100)
        let fresh = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 1 << 20, destinations: otlp("otlp"))
        let salvage = fresh.salvage(from: path)
        #expect(salvage.batches == 0)
        #expect(salvage.failure != nil)
    }
}

@Suite("Files Outpost may touch")
struct OwnedFileTests {
    @Test("links, directories and files with other hard links are refused; plain files and absent paths are not")
    func refusals() throws {
        let directory = (try temporarySpoolPath() as NSString).deletingLastPathComponent
        let plain = directory + "/plain"
        try Data("x".utf8).write(to: URL(fileURLWithPath: plain))
        #expect(OwnedFile.refusal(plain) == nil)
        #expect(OwnedFile.refusal(directory + "/absent") == nil)
        try FileManager.default.createSymbolicLink(atPath: directory + "/link", withDestinationPath: plain)
        #expect(OwnedFile.refusal(directory + "/link")?.contains("symbolic link") == true)
        #expect(OwnedFile.refusal(directory)?.contains("directory") == true)
        try FileManager.default.linkItem(atPath: plain, toPath: directory + "/second-name")
        #expect(OwnedFile.refusal(plain)?.contains("hard links") == true)
    }

    @Test("inside a directory is decided by path components, not by a string prefix")
    func inside() {
        #expect(OwnedFile.isInside("/var/lib/outpost/spool.db", directory: "/var/lib/outpost"))
        #expect(OwnedFile.isInside("/var/lib/outpost/sub/spool.db", directory: "/var/lib/outpost/"))
        #expect(!OwnedFile.isInside("/var/lib/outpost2/spool.db", directory: "/var/lib/outpost"))
        #expect(!OwnedFile.isInside("/etc/passwd", directory: "/var/lib/outpost"))
        #expect(!OwnedFile.isInside("/etc/passwd", directory: ""))
    }
}
