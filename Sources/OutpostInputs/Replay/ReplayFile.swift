#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import OutpostCore

/// One line of a recording: a row to replay, or a reason it was skipped.
public enum ReplayLine: Sendable {
    case row(line: Int, time: Int64, value: Double)
    case skipped(line: Int, reason: String)
}

/// Streams a `timestamp,value` CSV line by line (recordings can be larger than a Pi's memory).
///
/// The first line must be the header `timestamp,value` (any case, extra spaces and quotes allowed). Blank lines
/// and `#` comments are ignored; a row with a bad timestamp, a bad or non-finite value, the wrong number of
/// fields, or a timestamp older than the previous row is skipped and reported with its line number.
public final class ReplayFile {
    public let path: String
    private let handle: UnsafeMutablePointer<FILE>
    private var lineNumber = 0
    private var previousTime = Int64.min
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0

    public init(path: String) throws(SystemFileError) {
        guard let handle = fopen(path, "r") else { throw SystemFileError(path: path, reason: String(cString: strerror(errno))) }
        self.path = path
        self.handle = handle
    }

    deinit {
        fclose(handle)
        free(buffer)
    }

    /// Reads the header; returns a problem when it is missing or wrong (the file is then not replayed).
    public func readHeader() -> String? {
        while let line = nextLine() {
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = Self.fields(trimmed).map { $0.lowercased() }
            if fields == ["timestamp", "value"] { return nil }
            return "\(path):\(lineNumber): expected the header `timestamp,value`, found `\(trimmed.prefix(60))`"
        }
        return "\(path): the file is empty; expected the header `timestamp,value` and rows"
    }

    /// The next row or skipped line, or nil at the end of the file.
    public func next() -> ReplayLine? {
        while let line = nextLine() {
            let trimmed = line.trimmingSpaces()
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
        guard let time = Timestamp.parse(fields[0]) else {
            return .skipped(line: lineNumber, reason: "`\(fields[0].prefix(40))` is not a timestamp "
                + "(RFC 3339, YYYY-MM-DD HH:MM:SS or unix seconds)")
        }
        guard let value = Double(fields[1]), value.isFinite else {
            return .skipped(line: lineNumber, reason: "`\(fields[1].prefix(40))` is not a finite number")
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

    private func nextLine() -> String? {
        let count = getline(&buffer, &capacity, handle)
        guard count >= 0, let buffer else { return nil }
        lineNumber += 1
        return String(decoding: UnsafeRawBufferPointer(start: buffer, count: count), as: UTF8.self)
    }
}
