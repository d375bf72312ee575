import OutpostCore
import OutpostInputs

/// A recording of several series in one CSV, as test rigs and historians export them: the header
/// `timestamp,<name>,<name>…`, then one row per time with one column per series (`outpost replay` judges each column
/// as a series and the columns together as a group).
///
/// Timestamps as in single-series files (`Timestamp`). An empty cell means no reading of that series at that time;
/// a cell that is not a finite number is reported (line and column) and read as empty, so one bad cell never costs
/// the row's other readings. A row with the wrong number of fields, a bad timestamp, or a timestamp older than the
/// row before it is skipped and reported. Lines stream through `ReplayFile`'s bounded reader.
package final class ReplayTable {
    /// One line of a table: a row to replay (with problems found in its cells), or a reason it was skipped.
    package enum Line {
        case row(line: Int, time: Int64, values: [Double?], problems: [String])
        case skipped(line: Int, reason: String)
    }

    package let path: String
    /// The column names after `timestamp`, as written.
    package private(set) var columns: [String] = []
    private let file: ReplayFile
    private var previousTime = Int64.min

    package init(path: String) throws(SystemFileError) {
        self.path = path
        file = try ReplayFile(path: path)
    }

    /// Reads the header; returns a problem when it is missing or not `timestamp` and at least one column.
    package func readHeader() -> String? {
        guard let (number, bytes) = file.nextContentLine() else {
            return "\(path): the file is empty; expected a header such as `timestamp,value` or `timestamp,a,b`"
        }
        guard let bytes else { return "\(path):\(number): the header is longer than \(ReplayFile.maximumLineLength) bytes" }
        let fields = Self.fields(bytes).map { String(decoding: $0, as: UTF8.self) }
        let names = fields.dropFirst()
        looksLikeTable = fields.first?.lowercased() == "timestamp" && names.count > 1
        guard fields.first?.lowercased() == "timestamp", !names.isEmpty, !names.contains(where: \.isEmpty) else {
            let found = String(String(decoding: bytes, as: UTF8.self).prefix(60)).escapingInvisibles
            return "\(path):\(number): expected a header `timestamp,<series>[,<series>…]`, found `\(found)`"
        }
        let duplicates = Set(names.filter { name in names.count { $0 == name } > 1 })
        guard duplicates.isEmpty else {
            return "\(path):\(number): the header names \(duplicates.sorted().map { "`\($0)`" }.joined(separator: ", ")) "
                + "more than once; every column needs its own name"
        }
        columns = Array(names)
        return nil
    }

    /// Whether the header starts with `timestamp` and names more than one column (read by `readHeader`, also when
    /// it finds a problem): a table, whose problems are a table's.
    package private(set) var looksLikeTable = false

    /// Whether the header is the single-series form `timestamp,value`.
    package var isSingleSeries: Bool { columns.count == 1 && columns[0].lowercased() == "value" }

    /// The next row or skipped line, or nil at the end of the file.
    package func next() -> Line? {
        guard let (number, bytes) = file.nextContentLine() else { return nil }
        guard let bytes else {
            return .skipped(line: number, reason: "line longer than \(ReplayFile.maximumLineLength) bytes")
        }
        let fields = Self.fields(bytes)
        guard fields.count == columns.count + 1 else {
            return .skipped(line: number, reason: "expected \(columns.count + 1) fields (timestamp and "
                + "\(columns.count) columns), found \(fields.count)")
        }
        let text = String(decoding: fields[0], as: UTF8.self)
        let time: Int64
        do {
            time = try Timestamp.parseChecked(text)
        } catch .outOfRange {
            return .skipped(line: number, reason: "`\(Self.shown(text))` is outside the times Outpost records "
                + "(1970-01-01 to 2199-12-31)")
        } catch {
            return .skipped(line: number, reason: "`\(Self.shown(text))` is not a timestamp "
                + "(RFC 3339, YYYY-MM-DD HH:MM:SS or unix seconds)")
        }
        guard time >= previousTime else {
            return .skipped(line: number, reason: "timestamp `\(Self.shown(text))` is older than the row before it")
        }
        previousTime = time
        var problems: [String] = []
        let values = fields.dropFirst().enumerated().map { column, field -> Double? in
            guard !field.isEmpty else { return nil }
            let cell = String(decoding: field, as: UTF8.self)
            guard let value = Double(cell), value.isFinite else {
                problems.append("column `\(columns[column])`: `\(Self.shown(cell))` is not a finite number; read as "
                    + "no reading")
                return nil
            }
            return value
        }
        return .row(line: number, time: time, values: values, problems: problems)
    }

    /// The comma-separated fields, each without surrounding spaces and one pair of double quotes.
    private static func fields(_ line: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        line.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .map { ReplayFile.unquoted(ReplayFile.trimmed($0)) }
    }

    private static func shown(_ text: String) -> String { String(text.prefix(40)).escapingInvisibles }

    /// A series name from a column name: characters other than letters, digits, `_`, `-` and `.` become `_`
    /// (`Volume Flow RateRMS` becomes `Volume_Flow_RateRMS`).
    package static func seriesName(_ column: String) -> String {
        String(column.map { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) ? $0 : "_" })
    }
}
