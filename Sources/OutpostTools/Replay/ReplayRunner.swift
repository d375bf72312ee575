import OutpostCore
import OutpostRuntime
import OutpostDetect
import OutpostInputs
import OutpostWire

/// Runs detection over recorded CSV files as fast as it can, for tuning `[detect]` without a gateway.
///
/// A `timestamp,value` file is one series (named by its `[[input.replay]]` entry with the same path, or after the
/// file). A multi-column file (`timestamp,a,b,c…`, see `ReplayTable`) is one series per column, named by the column
/// (with the attributes and `detect` table of a matching `[[input.replay]]` entry), judged each alone and together by
/// every `[[detect.group]]` that selects them; when none does, by one group of all the columns named after the file,
/// at the group defaults. Each file has a detection engine of its own, so files with different time ranges never
/// disturb each other.
package struct ReplayRunner {
    package let configuration: OutpostConfiguration?
    package let detection: DetectionConfiguration
    /// A table (an anomaly-free recording with the same columns) every table replays first, its times shifted to end
    /// a second before the table's first row: the series and groups learn on it; its rows are neither emitted, nor
    /// counted, nor scored (`outpost replay --learn-from`).
    package var learnFrom: String?

    package init(configuration: OutpostConfiguration?) {
        self.configuration = configuration
        self.detection = configuration?.detection ?? DetectionConfiguration()
    }

    /// Totals for one replayed series (a file, or one column of a table).
    package struct FileSummary: Sendable {
        package let path: String
        package var series: SeriesSummary?
        package var estimate: AnomalyDetector.Estimate?
        package var rows = 0
        package var skipped = 0
        package var events = 0
        /// Set when the file could not be replayed at all.
        package var failure: String?
        /// Samples, bands and episodes for `--plot` and `--labels` (samples only when asked for).
        package var trace: ReplayTrace?
    }

    /// Totals for one group over a replayed table.
    package struct GroupSummary: Sendable {
        package let path: String
        package var summary: OutpostDetect.GroupSummary
        package var members: [Series]
        package var events = 0
        package var firstTime: Int64 = 0
        package var lastTime: Int64 = 0
        /// The group's `learning`, as configured.
        package var learning = ""
        /// The group's per-row verdicts against the table's `anomaly` column (rows without a label are not scored).
        package var rows = RowScore()
        /// Statistics, limits and episodes for `--plot` and `--labels` (statistics only when asked for).
        package var trace: ReplayGroupTrace
    }

    /// Per-row verdicts against per-row labels: a row is flagged while the group has an episode open (sent or kept
    /// quiet by the budget), from the row that raises it up to the row that resolves it.
    package struct RowScore: Sendable, Equatable {
        package var truePositives = 0
        package var falsePositives = 0
        package var falseNegatives = 0
        package var trueNegatives = 0

        package init() {}

        package mutating func add(flagged: Bool, anomalous: Bool) {
            switch (flagged, anomalous) {
            case (true, true): truePositives += 1
            case (true, false): falsePositives += 1
            case (false, true): falseNegatives += 1
            case (false, false): trueNegatives += 1
            }
        }

        package static func + (lhs: RowScore, rhs: RowScore) -> RowScore {
            var sum = lhs
            sum.truePositives += rhs.truePositives
            sum.falsePositives += rhs.falsePositives
            sum.falseNegatives += rhs.falseNegatives
            sum.trueNegatives += rhs.trueNegatives
            return sum
        }

        package var rows: Int { truePositives + falsePositives + falseNegatives + trueNegatives }
        package var precision: Double { ratio(truePositives, truePositives + falsePositives) }
        package var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
        /// F1: the harmonic mean of precision and recall.
        package var f1: Double { ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives) }
        /// The false-alarm rate: the share of normal rows flagged.
        package var falseAlarmRate: Double { ratio(falsePositives, falsePositives + trueNegatives) }
        /// The missed-alarm rate: the share of anomalous rows not flagged.
        package var missedAlarmRate: Double { ratio(falseNegatives, falseNegatives + truePositives) }

        private func ratio(_ numerator: Int, _ denominator: Int) -> Double {
            denominator == 0 ? 0 : Double(numerator) / Double(denominator)
        }
    }

    /// What one file gave: its series (one, or a table's columns) and a table's groups.
    package struct Result: Sendable {
        package var files: [FileSummary]
        package var groups: [GroupSummary] = []
    }

    /// The header of `--verdicts` files: one line per table row and group (see `replay`).
    package static let verdictHeader = "file,line,timestamp,group,state,t2,q,t2_limit,q_limit,anomaly,label"

    /// Replays `path`; each event goes to `emit` as alert JSON, each skipped row or cell to `problem`. For a table,
    /// each row's verdict of each group goes to `verdicts` as a CSV line under `verdictHeader`: the row's state for
    /// the group (`learning`, `judged`, `transition`, `suspended`, or `no_sample` when the row completed no group
    /// sample), its confirmed T² and Q and the limits they raise beyond (empty unless judged), `anomaly` 1 while an
    /// episode is open, and the row's label (empty without an `anomaly` column).
    package func replay(path: String, keepSamples: Bool = false, verdicts: ((String) -> Void)? = nil,
                        emit: (String) -> Void, problem: (String) -> Void) -> Result {
        if let table = try? ReplayTable(path: path) {
            let headerProblem = table.readHeader()
            if headerProblem == nil, !table.isSingleSeries {
                return replayTable(table, keepSamples: keepSamples, verdicts: verdicts, emit: emit, problem: problem)
            }
            if let headerProblem, table.looksLikeTable {
                var summary = FileSummary(path: path)
                summary.failure = headerProblem
                return Result(files: [summary])
            }
        }
        return Result(files: [replaySeries(path: path, keepSamples: keepSamples, emit: emit, problem: problem)])
    }

    /// Replays a `timestamp,value` file as one series.
    private func replaySeries(path: String, keepSamples: Bool, emit: (String) -> Void,
                              problem: (String) -> Void) -> FileSummary {
        var summary = FileSummary(path: path)
        let file: ReplayFile
        do {
            file = try ReplayFile(path: path)
        } catch {
            summary.failure = error.description
            return summary
        }
        if let headerProblem = file.readHeader() {
            summary.failure = headerProblem
            return summary
        }
        let (series, source) = seriesAndSource(for: path)
        var engine = DetectionEngine(configuration: detection)
        engine.tracing = keepSamples
        let gateway = configuration?.gateway.id ?? "replay"
        let settings = detection.settings(for: series, sensorPatch: source.patch).anomaly
        var trace = ReplayTrace(name: series.name, unit: series.unit, sigma: settings.sigma,
                                threshold: settings.likelihoodThreshold)
        while let line = file.next() {
            switch line {
            case .row(_, let time, let value):
                summary.rows += 1
                for event in engine.process(Sample(series: series, time: time, value: value), from: source) {
                    summary.events += 1
                    trace.note(event)
                    emit(AlertJSON.encode(event, gateway: gateway))
                }
                if keepSamples { trace.add(time: time, value: value, judged: engine.lastJudgement(for: series)) }
            case .skipped(let number, let reason):
                summary.skipped += 1
                problem("\(path):\(number): skipped: \(reason)")
            }
        }
        summary.series = engine.summaries.first
        summary.estimate = engine.estimate(for: series)
        summary.trace = trace
        return summary
    }

    /// Replays a multi-column table: each column a series, the columns together in groups.
    private func replayTable(_ table: ReplayTable, keepSamples: Bool, verdicts: ((String) -> Void)?,
                             emit: (String) -> Void, problem: (String) -> Void) -> Result {
        var run = TableRun(table, runner: self, keepSamples: keepSamples)
        var prelude = learnFrom
        while let line = table.next() {
            switch line {
            case .row(let number, let time, let values, let label, let problems):
                if let path = prelude {
                    prelude = nil
                    if let failure = run.learn(from: path, before: time, problem: problem) {
                        var summary = FileSummary(path: table.path)
                        summary.failure = failure
                        return Result(files: [summary])
                    }
                }
                for text in problems { problem("\(table.path):\(number): \(text)") }
                run.replay(time: time, values: values, emit: emit)
                run.judge(line: number, time: time, label: label, verdicts: verdicts)
            case .skipped(let number, let reason):
                for index in run.files.indices { run.files[index].skipped += 1 }
                problem("\(table.path):\(number): skipped: \(reason)")
            }
        }
        return run.finish()
    }

    /// One table's replay: its engine, its series and groups, and their totals.
    private struct TableRun {
        let path: String
        let series: [Series]
        let source: SampleSource
        let gateway: String
        var engine: DetectionEngine
        var files: [FileSummary]
        var groups: [GroupSummary]
        let byName: [String: Int]
        let groupByName: [String: Int]
        let keepSamples: Bool
        var first: Int64?
        var last: Int64 = 0

        init(_ table: ReplayTable, runner: ReplayRunner, keepSamples: Bool) {
            path = table.path
            let (identity, source) = runner.tableIdentity(for: path)
            self.source = source
            let series = table.columns.map { Series(name: ReplayTable.seriesName($0), unit: "", attributes: identity) }
            self.series = series
            var detection = runner.detection
            if !detection.groups.contains(where: { group in group.enabled && series.contains(where: group.selects) }) {
                var group = GroupConfiguration(name: ReplayInputConfiguration.defaultName(for: path))
                group.attributes = identity.entries.compactMap { entry in
                    entry.key == "device" ? (entry.key, Glob(entry.value.description)) : nil
                }
                detection.groups = [group]
            }
            engine = DetectionEngine(configuration: detection)
            // Verdicts need each group sample's state, plots the statistics: tracing gives both.
            engine.tracing = true
            self.keepSamples = keepSamples
            gateway = runner.configuration?.gateway.id ?? "replay"
            files = series.map { column -> FileSummary in
                var summary = FileSummary(path: table.path)
                let settings = detection.settings(for: column, sensorPatch: source.patch).anomaly
                summary.trace = ReplayTrace(name: column.name, unit: column.unit, sigma: settings.sigma,
                                            threshold: settings.likelihoodThreshold)
                return summary
            }
            let enabled = detection.groups.filter(\.enabled)
            let names = enabled.map(\.name)
            groups = enabled.map { group in
                var summary = GroupSummary(path: table.path, summary: OutpostDetect.GroupSummary(name: group.name),
                                           members: [], trace: ReplayGroupTrace(name: group.name))
                summary.learning = ConfigQuantities.format(group.learning)
                return summary
            }
            byName = Dictionary(series.indices.map { (series[$0].name, $0) }, uniquingKeysWith: { first, _ in first })
            groupByName = Dictionary(names.indices.map { (names[$0], $0) }, uniquingKeysWith: { first, _ in first })
        }

        /// Replays the table at `path` first, shifted to end a second before `first`, without emitting or counting
        /// anything; the problem when it cannot be used.
        mutating func learn(from path: String, before first: Int64, problem: (String) -> Void) -> String? {
            func open() -> Swift.Result<ReplayTable, LearnFailure> {
                let table: ReplayTable
                do {
                    table = try ReplayTable(path: path)
                } catch {
                    return .failure(LearnFailure(text: "--learn-from: \(error)"))
                }
                if let headerProblem = table.readHeader() { return .failure(LearnFailure(text: headerProblem)) }
                return .success(table)
            }
            // A first pass finds the recording's last time, so that it can end just before the table starts.
            var last: Int64?
            switch open() {
            case .failure(let failure): return failure.text
            case .success(let scan):
                while let line = scan.next() { if case .row(_, let time, _, _, _) = line { last = time } }
            }
            guard let last else { return "--learn-from \(path): no rows to learn from" }
            let prelude: ReplayTable
            switch open() {
            case .failure(let failure): return failure.text
            case .success(let table): prelude = table
            }
            let columns = series.map { column in
                prelude.columns.firstIndex { ReplayTable.seriesName($0) == column.name }
            }
            if let missing = columns.firstIndex(where: { $0 == nil }) {
                return "--learn-from \(path): it has no column `\(series[missing].name)`; it needs every column of "
                    + "\(self.path)"
            }
            let shift = first - 1_000_000_000 - last
            while let line = prelude.next() {
                switch line {
                case .row(let number, let time, let values, _, let problems):
                    for text in problems { problem("\(path):\(number): \(text)") }
                    for (column, field) in columns.enumerated() {
                        guard let value = values[field!] else { continue }
                        _ = engine.process(Sample(series: series[column], time: time + shift, value: value),
                                           from: source)
                    }
                case .skipped(let number, let reason):
                    problem("\(path):\(number): skipped: \(reason)")
                }
            }
            return nil
        }

        private struct LearnFailure: Error {
            let text: String
        }

        mutating func replay(time: Int64, values: [Double?], emit: (String) -> Void) {
            first = first ?? time
            last = time
            for (column, value) in values.enumerated() {
                guard let value else { continue }
                files[column].rows += 1
                for event in engine.process(Sample(series: series[column], time: time, value: value), from: source) {
                    emit(AlertJSON.encode(event, gateway: gateway))
                    note(event)
                }
                if keepSamples {
                    files[column].trace!.add(time: time, value: value,
                                             judged: engine.lastJudgement(for: series[column]))
                }
            }
            if keepSamples {
                for index in groups.indices { groups[index].trace.add(engine.lastGroupTrace(index)) }
            }
        }

        private mutating func note(_ event: Event) {
            if case .string(let group)? = event.attributes["outpost.group"], let index = groupByName[group] {
                groups[index].events += 1
                groups[index].trace.note(event)
            } else if let name = event.series?.name, let index = byName[name] {
                files[index].events += 1
                files[index].trace!.note(event)
            }
        }

        /// Each group's verdict on the row: scored against its label, and written to `verdicts`.
        mutating func judge(line: Int, time: Int64, label: Bool?, verdicts: ((String) -> Void)?) {
            for index in groups.indices {
                let flagged = engine.groupInEpisode(index)
                if let label { groups[index].rows.add(flagged: flagged, anomalous: label) }
                guard let verdicts else { continue }
                let trace = engine.lastGroupTrace(index).flatMap { $0.time == time ? $0 : nil }
                let state = trace?.state.rawValue ?? "no_sample"
                let numbers = [trace?.t2, trace?.q, trace?.t2Limit, trace?.qLimit].map { value in
                    value.map { $0.isFinite ? String($0) : "" } ?? ""
                }
                let fields = [Self.csvField(path), String(line), RFC3339.format(time),
                              Self.csvField(groups[index].summary.name), state] + numbers
                    + [flagged ? "1" : "0", label.map { $0 ? "1" : "0" } ?? ""]
                verdicts(fields.joined(separator: ","))
            }
        }

        private static func csvField(_ text: String) -> String {
            guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
            return "\"" + text.replacing("\"", with: "\"\"") + "\""
        }

        mutating func finish() -> Result {
            let summaries = Dictionary(engine.summaries.map { ($0.series.name, $0) },
                                       uniquingKeysWith: { first, _ in first })
            for index in files.indices {
                files[index].series = summaries[series[index].name]
                files[index].estimate = engine.estimate(for: series[index])
            }
            for (index, summary) in engine.groupSummaries.enumerated() {
                groups[index].summary = summary
                groups[index].members = engine.groupMembers(index)
                groups[index].firstTime = first ?? 0
                groups[index].lastTime = last
            }
            return Result(files: files, groups: groups)
        }
    }

    /// The attributes and detection settings a table's series take from an `[[input.replay]]` entry with its path;
    /// without one, `device` is the file's name (a table is one machine's recording), so that the series of several
    /// tables replayed together stay apart.
    fileprivate func tableIdentity(for path: String) -> (Attributes, SampleSource) {
        let matching = configuration?.inputs.first { configured in
            guard let replay = configured.settings as? ReplayInputConfiguration else { return false }
            return replay.path == path || replay.path.hasSuffix("/" + path)
        }
        guard let matching, let replay = matching.settings as? ReplayInputConfiguration else {
            return (["device": .string(ReplayInputConfiguration.defaultName(for: path))], SampleSource())
        }
        return (replay.identity.attributes, SampleSource(patch: matching.source.patch, interval: nil))
    }

    private func seriesAndSource(for path: String) -> (Series, SampleSource) {
        let matching = configuration?.inputs.first { configured in
            guard let replay = configured.settings as? ReplayInputConfiguration else { return false }
            return replay.path == path || replay.path.hasSuffix("/" + path)
        }
        if let matching, let replay = matching.settings as? ReplayInputConfiguration {
            return (replay.identity.series(), SampleSource(patch: matching.source.patch, interval: nil))
        }
        let identity = SensorIdentity(name: ReplayInputConfiguration.defaultName(for: path), unit: "")
        return (identity.series(), SampleSource())
    }

    /// A fixed-width table of the summaries, one line per series, and one per group after them.
    package static func table(_ summaries: [FileSummary], groups: [GroupSummary] = []) -> String {
        var lines = ["series                              rows  skipped  anomalies  suppressed  thresholds       min"
            + "      mean       max   stddev"]
        for summary in summaries {
            if let failure = summary.failure {
                lines.append("\(summary.path): not replayed: \(failure)")
                continue
            }
            let stats = summary.series
            let name = stats?.series.name ?? ReplayInputConfiguration.defaultName(for: summary.path)
            let columns: [String] = [
                (name).padded(to: 32, left: true), (String(summary.rows)).padded(to: 8), (String(summary.skipped)).padded(to: 9),
                (String(stats?.anomalies ?? 0)).padded(to: 11), (String(stats?.suppressed ?? 0)).padded(to: 12),
                (String(stats?.thresholdCrossings ?? 0)).padded(to: 12),
                (number(stats?.minimum)).padded(to: 10), (number(stats?.mean)).padded(to: 10), (number(stats?.maximum)).padded(to: 10),
                (number(summary.estimate?.standardDeviation)).padded(to: 9),
            ]
            lines.append(columns.joined())
        }
        guard !groups.isEmpty else { return lines.joined(separator: "\n") }
        lines.append("")
        lines.append("group                            members  samples  learning  transitions  suspended  anomalies"
            + "  suppressed  components")
        for group in groups {
            let summary = group.summary
            let learning = summary.learningSamples == summary.samples && summary.samples > 0
                ? "all" : String(summary.learningSamples)
            let columns: [String] = [
                summary.name.padded(to: 32, left: true), String(summary.members).padded(to: 8),
                String(summary.samples).padded(to: 9), learning.padded(to: 10),
                String(summary.transitions).padded(to: 13), String(summary.suspensions).padded(to: 11),
                String(summary.episodes - summary.suppressed).padded(to: 11),
                String(summary.suppressed).padded(to: 12), String(summary.retainedComponents).padded(to: 12),
            ]
            lines.append(columns.joined())
        }
        for group in groups {
            let summary = group.summary
            if summary.refused > 0 {
                lines.append("\(summary.name): \(summary.refused) more series matched; a group takes at most "
                    + "\(GroupConfiguration.maximumMembers) members (narrow `series` or `attributes`)")
            }
            if summary.samples > 0, summary.learningSamples == summary.samples {
                lines.append("\(summary.name): still learning at the end of \(group.path); shorten `learning` (now "
                    + "\(group.learning)) or use --learn-from")
            }
        }
        lines += rowScores(groups)
        return lines.joined(separator: "\n")
    }

    /// The groups' per-row verdicts against the tables' `anomaly` columns, and all of them together.
    private static func rowScores(_ groups: [GroupSummary]) -> [String] {
        let scored = groups.filter { $0.rows.rows > 0 }
        guard !scored.isEmpty else { return [] }
        var lines = ["", "rows against `anomaly`            rows  anomalous  flagged  precision  recall     F1  "
            + "false alarms  missed"]
        func line(_ name: String, _ score: RowScore) -> String {
            let columns: [String] = [
                name.padded(to: 32, left: true), String(score.rows).padded(to: 6),
                String(score.truePositives + score.falseNegatives).padded(to: 11),
                String(score.truePositives + score.falsePositives).padded(to: 9),
                number(score.precision).padded(to: 11), number(score.recall).padded(to: 8),
                number(score.f1).padded(to: 7),
                number(score.falseAlarmRate).padded(to: 14), number(score.missedAlarmRate).padded(to: 8),
            ]
            return columns.joined()
        }
        for group in scored { lines.append(line(ReplayInputConfiguration.defaultName(for: group.path), group.rows)) }
        if scored.count > 1 { lines.append(line("all", scored.map(\.rows).reduce(RowScore(), +))) }
        return lines
    }

    private static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        let rounded = (value * 1000).rounded() / 1000
        return String(rounded)
    }
}
