import OutpostCore

/// A recording of several series in one CSV, as test rigs and historians export them: a header naming a time column
/// and the series, then one row per time with one column per series (`outpost replay` judges each column as a
/// series and the columns together as a group).
///
/// - Separator: `;` when the header holds one (European and historian exports), else a tab when the header holds one
///   and no comma, else `,`. With `;` or a tab, a number may use a decimal comma (`0,25`).
/// - Time: the column named `timestamp`, `datetime` or `time` (any case, anywhere in the row); its values as in
///   single-series files (`Timestamp`: RFC 3339, `YYYY-MM-DD HH:MM:SS` or unix seconds).
/// - Labels: a column named `anomaly`, `is_anomaly` or `label` holds the row's label (0 or 1), and `changepoint` is
///   a label too; they are not series. `outpost replay` scores the group's per-row verdicts against `anomaly`.
/// - Every other column is a series.
///
/// An empty cell means no reading of that series at that time; a cell that is not a finite number is reported (line
/// and column) and read as empty, so one bad cell never costs the row's other readings. A row with the wrong number
/// of fields, a bad timestamp, or a timestamp older than the row before it is skipped and reported. Lines stream
/// through `ReplayFile`'s bounded reader (at most `ReplayFile.maximumLineLength` bytes each), so a recording may be
/// larger than memory. Fields are split at every separator: quotes around a field are dropped, a separator inside
/// quotes is not supported.
package final class ReplayTable {
    /// One line of a table: a row to replay (with problems found in its cells), or a reason it was skipped.
    package enum Line: Sendable {
        case row(line: Int, time: Int64, values: [Double?], label: Bool?, problems: [String])
        case skipped(line: Int, reason: String)
    }

    /// What a header says about the rows under it.
    package struct Header: Sendable, Equatable {
        package let separator: UInt8
        package let fieldCount: Int
        package let timeField: Int
        /// The series columns: their names as written, and their fields.
        package let columns: [String]
        package let columnFields: [Int]
        /// The field of the `anomaly` label, if any.
        package let labelField: Int?

        package static let timeNames: Set<String> = ["timestamp", "datetime", "time"]
        package static let labelNames: [String] = ["anomaly", "is_anomaly", "label"]
        package static let otherLabelNames: Set<String> = ["changepoint"]

        /// Whether this is the single-series header `timestamp,value`.
        package var isSingleSeries: Bool {
            separator == UInt8(ascii: ",") && fieldCount == 2 && timeField == 0 && labelField == nil
                && columns[0].lowercased() == "value"
        }

        /// Reads a header line (trimmed); the problem (without file and line) when it cannot head a table.
        package static func parse(_ line: ArraySlice<UInt8>) -> Result<Header, HeaderProblem> {
            let separator = ReplayTable.separator(of: line)
            let names = ReplayTable.fields(line, separator: separator).map { String(decoding: $0, as: UTF8.self) }
            let lowered = names.map { $0.lowercased() }
            guard let timeField = lowered.firstIndex(where: timeNames.contains) else {
                return .failure(.init("expected a time column (`timestamp`, `datetime` or `time`) and series columns"))
            }
            let labelField = labelNames.lazy.compactMap { lowered.firstIndex(of: $0) }.first
            let columnFields = names.indices.filter { field in
                field != timeField && !labelNames.contains(lowered[field]) && !otherLabelNames.contains(lowered[field])
            }
            guard !columnFields.isEmpty else {
                return .failure(.init("expected at least one series column beside `\(names[timeField])`"))
            }
            if columnFields.contains(where: { names[$0].isEmpty }) {
                return .failure(.init("a column has no name; every series column needs one"))
            }
            let columns = columnFields.map { names[$0] }
            // Columns become series by `seriesName`: two names that become the same series would be one series.
            let series = columns.map(ReplayTable.seriesName)
            let duplicates = Set(columns.filter { name in series.count { $0 == ReplayTable.seriesName(name) } > 1 })
            guard duplicates.isEmpty else {
                let named = duplicates.sorted().map { "`\($0)`" }.joined(separator: ", ")
                return .failure(.init("the header names \(named) as the same series; every column needs its own name"))
            }
            return .success(Header(separator: separator, fieldCount: names.count, timeField: timeField,
                                   columns: columns, columnFields: columnFields, labelField: labelField))
        }
    }

    package struct HeaderProblem: Error, Sendable, Equatable {
        package let text: String
        init(_ text: String) { self.text = text }
    }

    /// A row as read from its line, before its time is checked against the row before.
    package enum Row: Sendable, Equatable {
        case row(time: Int64, values: [Double?], label: Bool?, problems: [String])
        case skipped(reason: String)
    }

    package let path: String
    package private(set) var header: Header?
    private let file: ReplayFile
    private var previousTime = Int64.min

    package init(path: String) throws(SystemFileError) {
        self.path = path
        file = try ReplayFile(path: path)
    }

    /// The series columns' names, as written (empty until the header is read).
    package var columns: [String] { header?.columns ?? [] }

    /// Reads the header; returns a problem (`file:line: what`) when it is missing or cannot head a table.
    package func readHeader() -> String? {
        guard let (number, bytes) = file.nextContentLine() else {
            return "\(path): the file is empty; expected a header such as `timestamp,value` or `timestamp,a,b`"
        }
        guard let bytes else {
            return "\(path):\(number): the header is longer than \(ReplayFile.maximumLineLength) bytes"
        }
        switch Header.parse(bytes) {
        case .success(let parsed):
            header = parsed
            return nil
        case .failure(let problem):
            let separator = Self.separator(of: bytes)
            looksLikeTable = Self.fields(bytes, separator: separator).count > 2 || separator != UInt8(ascii: ",")
            let found = String(String(decoding: bytes, as: UTF8.self).prefix(60)).escapingInvisibles
            return "\(path):\(number): \(problem.text), found `\(found)`"
        }
    }

    /// Whether a header that could not be read still looks like a table's (more than two fields, or a separator
    /// other than `,`): its problem is then a table's, not a single series'.
    package private(set) var looksLikeTable = false

    /// Whether the header is the single-series form `timestamp,value`.
    package var isSingleSeries: Bool { header?.isSingleSeries ?? false }

    /// The next row or skipped line, or nil at the end of the file.
    package func next() -> Line? {
        guard let header, let (number, bytes) = file.nextContentLine() else { return nil }
        guard let bytes else {
            return .skipped(line: number, reason: "line longer than \(ReplayFile.maximumLineLength) bytes")
        }
        switch Self.parse(bytes, header: header) {
        case .skipped(let reason):
            return .skipped(line: number, reason: reason)
        case .row(let time, let values, let label, let problems):
            guard time >= previousTime else {
                let field = Self.fields(bytes, separator: header.separator)[header.timeField]
                let text = String(decoding: field, as: UTF8.self)
                return .skipped(line: number, reason: "timestamp `\(Self.shown(text))` is older than the row before it")
            }
            previousTime = time
            return .row(line: number, time: time, values: values, label: label, problems: problems)
        }
    }

    /// Reads one trimmed row under `header`.
    package static func parse(_ line: ArraySlice<UInt8>, header: Header) -> Row {
        let fields = Self.fields(line, separator: header.separator)
        guard fields.count == header.fieldCount else {
            return .skipped(reason: "expected \(header.fieldCount) fields (a time and \(header.columns.count) series"
                + "\(header.fieldCount - header.columns.count > 1 ? " and labels" : "")), found \(fields.count)")
        }
        let text = String(decoding: fields[header.timeField], as: UTF8.self)
        let time: Int64
        do {
            time = try Timestamp.parseChecked(text)
        } catch .outOfRange {
            return .skipped(reason: "`\(shown(text))` is outside the times Outpost records (1970-01-01 to 2199-12-31)")
        } catch {
            return .skipped(reason: "`\(shown(text))` is not a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS or unix "
                + "seconds)")
        }
        var problems: [String] = []
        let values = header.columnFields.enumerated().map { column, field -> Double? in
            guard !fields[field].isEmpty else { return nil }
            guard let value = number(fields[field], separator: header.separator) else {
                problems.append("column `\(shown(header.columns[column]))`: `\(shown(fields[field]))` is not a finite "
                    + "number; read as no reading")
                return nil
            }
            return value
        }
        var label: Bool?
        if let field = header.labelField, !fields[field].isEmpty {
            switch number(fields[field], separator: header.separator) {
            case 0?: label = false
            case 1?: label = true
            default:
                problems.append("label: expected 0 or 1, found `\(shown(fields[field]))`; the row is not scored")
            }
        }
        return .row(time: time, values: values, label: label, problems: problems)
    }

    /// A finite number from a cell; with `;` or a tab as separator, a decimal comma is read as a point.
    private static func number(_ cell: ArraySlice<UInt8>, separator: UInt8) -> Double? {
        var text = String(decoding: cell, as: UTF8.self)
        let commas = text.utf8.count(where: { $0 == UInt8(ascii: ",") })
        if separator != UInt8(ascii: ","), commas == 1, !text.contains(".") {
            text = text.replacing(",", with: ".")
        }
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    private static func separator(of line: ArraySlice<UInt8>) -> UInt8 {
        if line.contains(UInt8(ascii: ";")) { return UInt8(ascii: ";") }
        if line.contains(0x09), !line.contains(UInt8(ascii: ",")) { return 0x09 }
        return UInt8(ascii: ",")
    }

    /// The fields, each without surrounding spaces and one pair of double quotes.
    private static func fields(_ line: ArraySlice<UInt8>, separator: UInt8) -> [ArraySlice<UInt8>] {
        line.split(separator: separator, omittingEmptySubsequences: false)
            .map { ReplayFile.unquoted(ReplayFile.trimmed($0)) }
    }

    private static func shown(_ text: String) -> String { String(text.prefix(40)).escapingInvisibles }

    private static func shown(_ bytes: ArraySlice<UInt8>) -> String { shown(String(decoding: bytes, as: UTF8.self)) }

    /// A series name from a column name: characters other than letters, digits, `_`, `-` and `.` become `_`
    /// (`Volume Flow RateRMS` becomes `Volume_Flow_RateRMS`).
    package static func seriesName(_ column: String) -> String {
        String(column.map { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) ? $0 : "_" })
    }
}
