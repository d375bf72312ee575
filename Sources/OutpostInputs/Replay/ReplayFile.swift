#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import OutpostCore

/// One line of a recording: a row to replay, or a reason it was skipped.
package enum ReplayLine: Sendable {
    case row(line: Int, time: Int64, value: Double)
    case skipped(line: Int, reason: String)
}

/// Streams a `timestamp,value` CSV line by line (recordings can be larger than a Pi's memory).
///
/// The first line must be the header `timestamp,value` (any case, extra spaces and quotes allowed; a UTF-8 byte
/// order mark, as spreadsheet exports write, is skipped). Blank lines and `#` comments are ignored; a row with a bad
/// or out-of-range timestamp (see `Timestamp`), a bad or non-finite value, the wrong number of fields, more than
/// `maximumLineLength` bytes, or a timestamp older than the previous row is skipped and reported with its line
/// number. Memory stays bounded whatever the file holds: a line is never kept beyond `maximumLineLength` bytes.
package final class ReplayFile {
    package static let maximumLineLength = 4096

    package let path: String
    private let handle: UnsafeMutablePointer<FILE>
    private var lineNumber = 0
    private var previousTime = Int64.min
    private var lineBytes: [UInt8] = []
    private var lineTooLong = false

    package init(path: String) throws(SystemFileError) {
        guard let handle = fopen(path, "r") else { throw SystemFileError(path: path, reason: String(cString: strerror(errno))) }
        self.path = path
        self.handle = handle
    }

    deinit {
        fclose(handle)
    }

    /// Reads the header; returns a problem when it is missing or wrong (the file is then not replayed).
    package func readHeader() -> String? {
        while let line = nextLine() {
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = Self.fields(trimmed).map { $0.lowercased() }
            if fields == ["timestamp", "value"] { return nil }
            let found = String(trimmed.prefix(60)).escapingInvisibles
            return "\(path):\(lineNumber): expected the header `timestamp,value`, found `\(found)`"
        }
        return "\(path): the file is empty; expected the header `timestamp,value` and rows"
    }

    /// The next row or skipped line, or nil at the end of the file.
    package func next() -> ReplayLine? {
        while let line = nextLine() {
            let trimmed = line.trimmingSpaces()
            if lineTooLong {
                return .skipped(line: lineNumber, reason: "line longer than \(Self.maximumLineLength) bytes")
            }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            return parse(trimmed)
        }
        return nil
    }

    private func parse(_ line: String) -> ReplayLine {
        let fields = Self.fields(line)
        guard fields.count == 2 else {
            return .skipped(line: lineNumber, reason: "expected 2 fields (timestamp,value), found \(fields.count)")
        }
        let time: Int64
        do {
            time = try Timestamp.parseChecked(fields[0])
        } catch .outOfRange {
            return .skipped(line: lineNumber, reason: "`\(Self.quoted(fields[0]))` is outside the times Outpost "
                + "records (1970-01-01 to 2199-12-31)")
        } catch {
            return .skipped(line: lineNumber, reason: "`\(Self.quoted(fields[0]))` is not a timestamp "
                + "(RFC 3339, YYYY-MM-DD HH:MM:SS or unix seconds)")
        }
        guard let value = Double(fields[1]), value.isFinite else {
            return .skipped(line: lineNumber, reason: "`\(Self.quoted(fields[1]))` is not a finite number")
        }
        guard time >= previousTime else {
            return .skipped(line: lineNumber, reason: "timestamp `\(fields[0])` is older than the row before it")
        }
        previousTime = time
        return .row(line: lineNumber, time: time, value: value)
    }

    static func fields(_ line: String) -> [String] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { field in
            var text = field.trimmingSpacesSubstring()
            if text.count >= 2, text.first == "\"", text.last == "\"" { text = text.dropFirst().dropLast() }
            return String(text)
        }
    }

    private static func quoted(_ field: String) -> String {
        String(field.prefix(40)).escapingInvisibles
    }

    /// The next line without its newline (at most `maximumLineLength` bytes kept; `lineTooLong` says whether
    /// more were dropped), or nil at the end of the file. The first line loses a UTF-8 byte order mark.
    private func nextLine() -> String? {
        lineBytes.removeAll(keepingCapacity: true)
        lineTooLong = false
        var sawAnything = false
        while true {
            let character = getc_unlocked(handle)
            guard character != EOF else { break }
            sawAnything = true
            if character == 0x0A { break }
            if lineBytes.count < Self.maximumLineLength {
                lineBytes.append(UInt8(truncatingIfNeeded: character))
            } else {
                lineTooLong = true
            }
        }
        guard sawAnything else { return nil }
        lineNumber += 1
        if lineNumber == 1, lineBytes.starts(with: [0xEF, 0xBB, 0xBF]) { lineBytes.removeFirst(3) }
        return String(decoding: lineBytes, as: UTF8.self)
    }
}
