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
    /// How much is read from the file at a time.
    static let chunkSize = 1 << 16

    package let path: String
    private let handle: UnsafeMutablePointer<FILE>
    private var lineNumber = 0
    private var previousTime = Int64.min
    /// Bytes read from the file: `buffer[start..<end]` is not yet consumed.
    private var buffer = [UInt8](repeating: 0, count: ReplayFile.chunkSize)
    private var start = 0
    private var end = 0
    private var endOfFile = false
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
            let trimmed = String(decoding: Self.trimmed(buffer[line]), as: UTF8.self)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false)
                .map { String(decoding: Self.unquoted(Self.trimmed(Array($0.utf8)[...])), as: UTF8.self).lowercased() }
            if fields == ["timestamp", "value"] { return nil }
            let found = String(trimmed.prefix(60)).escapingInvisibles
            return "\(path):\(lineNumber): expected the header `timestamp,value`, found `\(found)`"
        }
        return "\(path): the file is empty; expected the header `timestamp,value` and rows"
    }

    /// The next row or skipped line, or nil at the end of the file.
    package func next() -> ReplayLine? {
        while let line = nextLine() {
            if lineTooLong {
                return .skipped(line: lineNumber, reason: "line longer than \(Self.maximumLineLength) bytes")
            }
            let trimmed = Self.trimmed(buffer[line])
            if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
            return parse(trimmed)
        }
        return nil
    }

    /// The next line that is neither blank nor a comment: its number and trimmed bytes (nil when it is longer than
    /// `maximumLineLength`), or nil at the end of the file; the bytes are valid until the next call. For readers of
    /// other CSV forms over the same bounded, streaming reading (`outpost replay`'s multi-column tables).
    package func nextContentLine() -> (number: Int, bytes: ArraySlice<UInt8>?)? {
        while let line = nextLine() {
            if lineTooLong { return (lineNumber, nil) }
            let trimmed = Self.trimmed(buffer[line])
            if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
            return (lineNumber, trimmed)
        }
        return nil
    }

    /// Parses a trimmed row on its bytes: no `String` is made unless the row is skipped and must be described.
    private func parse(_ line: ArraySlice<UInt8>) -> ReplayLine {
        let comma = UInt8(ascii: ",")
        guard let separator = line.firstIndex(of: comma), !line[(separator + 1)...].contains(comma) else {
            let count = line.count { $0 == comma } + 1
            return .skipped(line: lineNumber, reason: "expected 2 fields (timestamp,value), found \(count)")
        }
        let timeField = Self.unquoted(Self.trimmed(line[..<separator]))
        let valueField = Self.unquoted(Self.trimmed(line[(separator + 1)...]))
        let time: Int64
        do {
            time = try timeField.withUnsafeBufferPointer { bytes in
                Result { () throws(Timestamp.Failure) in try Timestamp.parseChecked(bytes: bytes) }
            }.get()
        } catch .outOfRange {
            return .skipped(line: lineNumber, reason: "`\(Self.quoted(timeField))` is outside the times Outpost "
                + "records (1970-01-01 to 2199-12-31)")
        } catch {
            return .skipped(line: lineNumber, reason: "`\(Self.quoted(timeField))` is not a timestamp "
                + "(RFC 3339, YYYY-MM-DD HH:MM:SS or unix seconds)")
        }
        // Values are short: the text stays a small string, never a heap allocation.
        guard let value = Double(String(decoding: valueField, as: UTF8.self)), value.isFinite else {
            return .skipped(line: lineNumber, reason: "`\(Self.quoted(valueField))` is not a finite number")
        }
        guard time >= previousTime else {
            return .skipped(line: lineNumber, reason: "timestamp `\(Self.quoted(timeField))` is older than the row before it")
        }
        previousTime = time
        return .row(line: lineNumber, time: time, value: value)
    }

    /// Without leading and trailing spaces, tabs and carriage returns.
    package static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return bytes[bytes.startIndex..<bytes.startIndex] }
        return bytes[first...last]
    }

    /// Without one pair of surrounding double quotes.
    package static func unquoted(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let quote = UInt8(ascii: "\"")
        guard bytes.count >= 2, bytes.first == quote, bytes.last == quote else { return bytes }
        return bytes.dropFirst().dropLast()
    }

    private static func quoted(_ field: ArraySlice<UInt8>) -> String {
        String(String(decoding: field, as: UTF8.self).prefix(40)).escapingInvisibles
    }

    /// The next line's bytes in `buffer`, without its newline (at most `maximumLineLength` bytes kept;
    /// `lineTooLong` says whether more were dropped), or nil at the end of the file. Valid until the next call. The
    /// first line loses a UTF-8 byte order mark.
    private func nextLine() -> Range<Int>? {
        lineTooLong = false
        var dropped = false
        while true {
            if let newline = newline(from: start) {
                return take(start..<newline, consumed: newline + 1, dropped: dropped)
            }
            if endOfFile {
                guard start < end || dropped else { return nil }
                return take(start..<end, consumed: end, dropped: dropped)
            }
            // No newline among the bytes left: keep at most a line's worth of them, then read more.
            if end - start > Self.maximumLineLength {
                start = end - Self.maximumLineLength
                dropped = true
            }
            refill()
        }
    }

    private func take(_ line: Range<Int>, consumed: Int, dropped: Bool) -> Range<Int> {
        start = consumed
        lineNumber += 1
        lineTooLong = dropped || line.count > Self.maximumLineLength
        var line = line
        if lineNumber == 1, buffer[line].starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }
        return line
    }

    private func newline(from index: Int) -> Int? {
        guard index < end else { return nil }
        return buffer.withUnsafeBufferPointer { bytes -> Int? in
            guard let found = memchr(bytes.baseAddress! + index, 0x0A, end - index) else { return nil }
            return bytes.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Moves what is left to the front of the buffer and reads more after it.
    private func refill() {
        if start > 0 {
            buffer.withUnsafeMutableBufferPointer { bytes in
                _ = memmove(bytes.baseAddress!, bytes.baseAddress! + start, end - start)
            }
            end -= start
            start = 0
        }
        let count = buffer.withUnsafeMutableBufferPointer { bytes in
            fread(bytes.baseAddress! + end, 1, bytes.count - end, handle)
        }
        if count == 0 { endOfFile = true }
        end += count
    }
}
