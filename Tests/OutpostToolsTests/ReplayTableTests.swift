import Foundation
import OutpostCore
import OutpostInputs
import OutpostRuntime
import Testing
@testable import OutpostTools

@Suite("Replay of multi-column CSV tables")
struct ReplayTableTests {
    static func header(_ text: String) -> ReplayTable.Header? {
        try? ReplayTable.Header.parse(Array(text.utf8)[...]).get()
    }

    @Test("a comma header: the time column and one series per other column")
    func commaHeader() throws {
        let header = try #require(Self.header("timestamp,flow,\"current\", outlet pressure"))
        #expect(header.columns == ["flow", "current", "outlet pressure"])
        #expect(header.timeField == 0)
        #expect(header.labelField == nil)
        #expect(!header.isSingleSeries)
        #expect(Self.header("timestamp,value")?.isSingleSeries == true)
        #expect(ReplayTable.seriesName("Volume Flow RateRMS") == "Volume_Flow_RateRMS")
    }

    @Test("a test rig's export: `;`, a `datetime` column, and label columns that are not series")
    func rigHeader() throws {
        let header = try #require(Self.header(
            "datetime;Accelerometer1RMS;Current;Pressure;Volume Flow RateRMS;anomaly;changepoint"))
        #expect(header.separator == UInt8(ascii: ";"))
        #expect(header.columns == ["Accelerometer1RMS", "Current", "Pressure", "Volume Flow RateRMS"])
        #expect(header.labelField == 5)
        let row = ReplayTable.parse(Array("2020-03-09 10:14:33;0,0271;0.0263;0.054711;32.0;1.0;0.0".utf8)[...],
                                    header: header)
        #expect(row == .row(time: 1_583_748_873_000_000_000, values: [0.0271, 0.0263, 0.054711, 32], label: true,
                            problems: []))
    }

    @Test("headers that cannot head a table say why")
    func badHeaders() {
        func problem(_ text: String) -> String? {
            if case .failure(let problem) = ReplayTable.Header.parse(Array(text.utf8)[...]) { return problem.text }
            return nil
        }
        #expect(problem("when,a,b")?.contains("time column") == true)
        #expect(problem("timestamp,anomaly")?.contains("series column") == true)
        #expect(problem("timestamp,a,,b")?.contains("no name") == true)
        #expect(problem("timestamp,a b,a_b")?.contains("same series") == true)
    }

    @Test("a bad cell is read as no reading and named; a bad row is skipped with its reason")
    func badCellsAndRows() throws {
        let header = try #require(Self.header("timestamp,a,b,anomaly"))
        let cell = ReplayTable.parse(Array("1767225600,1.5,nan,0".utf8)[...], header: header)
        guard case .row(_, let values, let label, let problems) = cell else {
            Issue.record("expected a row, got \(cell)")
            return
        }
        #expect(values == [1.5, nil])
        #expect(label == false)
        #expect(problems.count == 1 && problems[0].contains("column `b`"))
        let short = ReplayTable.parse(Array("1767225600,1.5".utf8)[...], header: header)
        #expect(short == .skipped(reason: "expected 4 fields (a time and 2 series and labels), found 2"))
        if case .skipped(let reason) = ReplayTable.parse(Array("yesterday,1,2,0".utf8)[...], header: header) {
            #expect(reason.contains("not a timestamp"))
        } else {
            Issue.record("a bad timestamp was not skipped")
        }
        if case .row(_, _, _, let problems) = ReplayTable.parse(Array("1767225600,1,2,7".utf8)[...], header: header) {
            #expect(problems.first?.contains("expected 0 or 1") == true)
        }
    }

    /// A pump's recording: flow, current and pressure follow one speed; from row `faultStart` the pressure drops by
    /// 15 % against the speed (a stuck valve), labelled in the `anomaly` column.
    static func recording(rows: Int, faultStart: Int, badLine: Int?, start: Int = 1_767_225_600) -> String {
        var state: UInt64 = 42
        func gaussian() -> Double {
            func uniform() -> Double {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (Double(state >> 11) + 0.5) / Double(1 << 53)
            }
            return (-2 * Foundation.log(uniform())).squareRoot() * Foundation.cos(2 * .pi * uniform())
        }
        var lines = ["datetime;flow;current;pressure;anomaly;changepoint"]
        for row in 0..<rows {
            let speed = 0.7 + 0.18 * Foundation.sin(2 * .pi * Double(row) / 600)
            let fault = row >= faultStart
            let time = start + row
            let values = [50 * speed + 0.5 * gaussian(), 30 * speed + 5 + 0.3 * gaussian(),
                          4 * speed * (fault ? 0.85 : 1) + 0.05 * gaussian()]
            lines.append("\(time);" + values.map { String($0).replacing(".", with: ",") }.joined(separator: ";")
                + ";\(fault ? 1 : 0);\(row == faultStart ? 1 : 0)")
            if lines.count == badLine { lines.append("\(time);1;2") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("replay of a rig's table: a group over its columns, per-row verdicts scored against `anomaly`, a bad row named")
    func replayTable() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-table-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("pump-7.csv").path
        try Self.recording(rows: 2400, faultStart: 1800, badLine: 100).write(toFile: path, atomically: true,
                                                                            encoding: .utf8)
        let configuration = try OutpostConfiguration.parse("""
            [[input.replay]]
            path = "\(path)"
            device = "pump-7"

            [[detect.group]]
            name = "pump-7"
            learning = "20m"
            """, file: "replay.toml", environment: [:])
        var events: [String] = [], problems: [String] = [], verdicts: [String] = []
        let result = ReplayRunner(configuration: configuration).replay(
            path: path, verdicts: { verdicts.append($0) }, emit: { events.append($0) }, problem: { problems.append($0) })
        #expect(result.files.map { $0.series?.series.name } == ["flow", "current", "pressure"])
        #expect(result.files.allSatisfy { $0.rows == 2400 && $0.skipped == 1 })
        #expect(problems == ["\(path):101: skipped: expected 6 fields (a time and 3 series and labels), found 3"])
        let group = try #require(result.groups.first)
        #expect(group.summary.members == 3)
        // The members join on the first row: the group's samples start on the second.
        #expect(group.summary.samples == 2399)
        #expect(group.rows.rows == 2400)
        // The fault is caught within its first minute, and the 600 normal rows after learning stay unflagged.
        #expect(group.rows.falsePositives == 0)
        #expect(group.rows.truePositives > 540)
        #expect(group.rows.f1 > 0.9)
        let raised = events.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["event"] as? String == "outpost.anomaly.raised" && $0["series"] as? String == "pump-7" }
        #expect(raised.count == 1)
        #expect(verdicts.count == 2400)
        let fields = verdicts[1900].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(fields.count == ReplayRunner.verdictHeader.split(separator: ",").count)
        #expect(fields[0] == path && fields[3] == "pump-7" && fields[4] == "judged")
        #expect(fields[9] == "1" && fields[10] == "1")
        #expect(verdicts[0].contains(",no_sample,"))
        #expect(verdicts[1].contains(",learning,"))
        let report = ReplayRunner.table(result.files, groups: result.groups)
        #expect(report.contains("rows against `anomaly`"))
        #expect(!report.contains("still learning"))
        // At the default learning of a day, a 40-minute table never leaves it: the table says so and how to help.
        let untuned = ReplayRunner(configuration: nil).replay(path: path, emit: { _ in }, problem: { _ in })
        let hint = ReplayRunner.table(untuned.files, groups: untuned.groups)
        #expect(hint.contains("pump-7: still learning at the end of \(path); shorten `learning` (now 1d)"))
    }

    @Test("--learn-from: a group learns on an anomaly-free recording and judges a short faulty one from its first row")
    func learnFrom() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-table-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let free = folder.appendingPathComponent("anomaly-free.csv").path
        let faulty = folder.appendingPathComponent("valve.csv").path
        // The anomaly-free recording is a week later than the faulty one: it is shifted to end before it anyway.
        try Self.recording(rows: 2400, faultStart: 2400, badLine: nil, start: 1_767_830_400)
            .write(toFile: free, atomically: true, encoding: .utf8)
        try Self.recording(rows: 600, faultStart: 300, badLine: nil).write(toFile: faulty, atomically: true,
                                                                           encoding: .utf8)
        let configuration = try OutpostConfiguration.parse("""
            [[input.simulated]]
            name = "unused"

            [[detect.group]]
            name = "rig"
            learning = "30m"
            """, file: "replay.toml", environment: [:])
        var runner = ReplayRunner(configuration: configuration)
        runner.learnFrom = free
        var verdicts: [String] = []
        let result = runner.replay(path: faulty, verdicts: { verdicts.append($0) }, emit: { _ in }, problem: { _ in })
        let group = try #require(result.groups.first)
        #expect(result.files.allSatisfy { $0.rows == 600 })
        #expect(verdicts.count == 600)
        #expect(!verdicts.contains { $0.contains(",learning,") || $0.contains(",no_sample,") })
        #expect(group.rows.falsePositives == 0)
        #expect(group.rows.truePositives > 250)
        runner.learnFrom = folder.appendingPathComponent("missing.csv").path
        let failed = runner.replay(path: faulty, emit: { _ in }, problem: { _ in })
        #expect(failed.files.first?.failure?.contains("missing.csv") == true)
    }
}
