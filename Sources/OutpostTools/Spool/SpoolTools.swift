import FoundationEssentials
import OutpostCore
import OutpostRuntime
import OutpostInputs
import OutpostSpool
import OutpostWire

#if canImport(Glibc)
import Glibc
#endif

/// What `outpost spool stats | inspect | export | purge` do, on the spool file of a config.
package enum SpoolTools {
    /// A table of what each lane holds and has dropped.
    package static func stats(path: String, now: Int64) throws -> String {
        let statistics = try SQLiteSpool(readOnlyPath: path).statistics()
        var lines = ["spool: \(path)",
                     "lane       batches     items       bytes   oldest age   dropped batches   dropped items"]
        for lane in Lane.allCases {
            let totals = statistics[lane]
            let age = totals.oldest.map { "\(Int(UnixNanos.seconds(now - $0)))s" } ?? "-"
            lines.append([(lane.description).padded(to: 8, left: true), ("\(totals.batches)").padded(to: 10), ("\(totals.items)").padded(to: 10),
                          ("\(totals.bytes)").padded(to: 12), (age).padded(to: 13), ("\(totals.droppedBatches)").padded(to: 18),
                          ("\(totals.droppedItems)").padded(to: 16)].joined())
        }
        lines.append("total: \(statistics.accountedBytes) bytes counted against max_size")
        return lines.joined(separator: "\n")
    }

    /// Up to `limit` batches in sending order, one JSON object per line, the payload decoded to OTLP/JSON.
    package static func inspect(path: String, limit: Int) throws -> [String] {
        var lines: [String] = []
        try inspect(path: path, limit: limit) { lines.append($0) }
        return lines
    }

    /// `inspect`, each line handed to `emit` as soon as its page is read: no read of the spool stays open while the
    /// lines are written (to a pager, a slow pipe), so the running Outpost's write-ahead log never waits for it.
    package static func inspect(path: String, limit: Int, emit: (String) -> Void) throws {
        try SQLiteSpool(readOnlyPath: path).batches(limit: limit) { spooled in emit(line(for: spooled)) }
    }

    private static func line(for spooled: SpooledBatch) -> String {
        let batch = spooled.batch
        var json = JSONWriter()
        json.beginObject()
        json.integer("sequence", spooled.sequence)
        json.string("id", batch.id)
        json.string("lane", batch.lane.description)
        json.string("signal", batch.signal.rawValue)
        json.string("created", RFC3339.format(batch.created))
        json.integer("items", Int64(batch.items))
        json.integer("bytes", Int64(batch.payload.count))
        json.integer("uncompressed_bytes", Int64(batch.uncompressedBytes))
        json.string("content_type", batch.contentType)
        json.string("content_encoding", batch.contentEncoding.rawValue)
        json.endObject()
        let decoded = (try? decode(batch)) ?? "{\"error\":\"cannot decode this payload\"}"
        return String(json.text.dropLast()) + ",\"payload\":" + decoded + "}"
    }

    /// What `export` wrote, and how many rows of a damaged file it had to step over.
    package struct ExportResult: Sendable, Equatable {
        package var batches = 0
        package var unreadable = 0
    }

    /// Writes every readable batch's payload to `directory` as `<sequence>-<lane>-<signal>-<id>.<pb|json>[.gz]`.
    /// Works on a damaged spool moved aside (`spool.db.unusable-<time>`): unreadable rows are stepped over and
    /// counted, not the end of the export.
    package static func export(path: String, to directory: String) throws -> ExportResult {
        let sqliteHeader = Array("SQLite format 3".utf8) + [0]
        guard SQLiteSpool.isOutpostDatabase(path) || OwnedFile.head(path, count: 16) == sqliteHeader else {
            throw ToolError(message: "\(path) is not an Outpost spool (no SQLite header)")
        }
        mkdir(directory, 0o755)
        var result = ExportResult()
        var failure: String?
        let (unreadable, readFailure, _) = SQLiteSpool.readBatches(at: path, writable: false) { spooled in
            guard failure == nil else { return }
            let batch = spooled.batch
            let ending = (batch.format == .otlpProtobuf ? "pb" : "json") + (batch.contentEncoding == .gzip ? ".gz" : "")
            let file = "\(directory)/\(spooled.sequence)-\(batch.lane)-\(batch.signal.rawValue)-\(batch.id).\(ending)"
            if let error = AtomicFile.write(bytes: batch.payload, to: file) {
                failure = "cannot write \(file): \(error)"
            } else {
                result.batches += 1
            }
        }
        if let failure { throw ToolError(message: failure) }
        if let readFailure, result.batches == 0 { throw ToolError(message: "cannot read \(path): \(readFailure)") }
        result.unreadable = unreadable
        return result
    }

    /// Deletes every batch (drop counters stay). Returns how many went.
    package static func purge(path: String, maxBytes: Int) throws -> Int {
        try SQLiteSpool(path: path, maxBytes: maxBytes, destinations: []).purge()
    }

    /// A batch's payload as JSON text: OTLP/JSON for an OTLP request, the document itself for an alert.
    package static func decode(_ batch: Batch) throws -> String {
        // OTLP/JSON and alert documents are JSON already: shown as stored.
        guard batch.format == .otlpProtobuf else {
            return String(decoding: try batch.uncompressedPayload(), as: UTF8.self)
        }
        return String(decoding: try OTLPPayload(batch).encoded(as: .json, gzipLevel: 0), as: UTF8.self)
    }
}

/// A tool failure with a message for the operator.
package struct ToolError: Error, CustomStringConvertible {
    package let message: String
    package var description: String { message }

    package init(message: String) {
        self.message = message
    }
}
