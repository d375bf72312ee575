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
        /// Statistics, limits and episodes for `--plot` and `--labels` (statistics only when asked for).
        package var trace: ReplayGroupTrace
    }

    /// What one file gave: its series (one, or a table's columns) and a table's groups.
    package struct Result: Sendable {
        package var files: [FileSummary]
        package var groups: [GroupSummary] = []
    }

    /// Replays `path`; each event goes to `emit` as alert JSON, each skipped row or cell to `problem`.
    package func replay(path: String, keepSamples: Bool = false, emit: (String) -> Void,
                        problem: (String) -> Void) -> Result {
        if let table = try? ReplayTable(path: path) {
            let headerProblem = table.readHeader()
            if headerProblem == nil, !table.isSingleSeries {
                return replayTable(table, keepSamples: keepSamples, emit: emit, problem: problem)
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
    private func replayTable(_ table: ReplayTable, keepSamples: Bool, emit: (String) -> Void,
                             problem: (String) -> Void) -> Result {
        let path = table.path
        let (identity, source) = tableIdentity(for: path)
        let series = table.columns.map {
            Series(name: ReplayTable.seriesName($0), unit: "", attributes: identity)
        }
        var tableDetection = detection
        if !tableDetection.groups.contains(where: { group in group.enabled && series.contains(where: group.selects) }) {
            var group = GroupConfiguration(name: ReplayInputConfiguration.defaultName(for: path))
            group.attributes = identity.entries.compactMap { entry in
                entry.key == "device" ? (entry.key, Glob(entry.value.description)) : nil
            }
            tableDetection.groups = [group]
        }
        var engine = DetectionEngine(configuration: tableDetection)
        engine.tracing = keepSamples
        let gateway = configuration?.gateway.id ?? "replay"
        var files = series.map { column -> FileSummary in
            var summary = FileSummary(path: path)
            let settings = tableDetection.settings(for: column, sensorPatch: source.patch).anomaly
            summary.trace = ReplayTrace(name: column.name, unit: column.unit, sigma: settings.sigma,
                                        threshold: settings.likelihoodThreshold)
            return summary
        }
        let enabled = tableDetection.groups.filter(\.enabled)
        var groups = enabled.map { group in
            GroupSummary(path: path, summary: OutpostDetect.GroupSummary(name: group.name), members: [],
                         trace: ReplayGroupTrace(name: group.name))
        }
        let byName = Dictionary(uniqueKeysWithValues: series.indices.map { (series[$0].name, $0) })
        let groupByName = Dictionary(uniqueKeysWithValues: groups.indices.map { (groups[$0].summary.name, $0) })
        var first: Int64?, last: Int64 = 0
        while let line = table.next() {
            switch line {
            case .row(let number, let time, let values, let problems):
                for text in problems { problem("\(path):\(number): \(text)") }
                first = first ?? time
                last = time
                for (column, value) in values.enumerated() {
                    guard let value else { continue }
                    files[column].rows += 1
                    for event in engine.process(Sample(series: series[column], time: time, value: value), from: source) {
                        emit(AlertJSON.encode(event, gateway: gateway))
                        if case .string(let group)? = event.attributes["outpost.group"], let index = groupByName[group] {
                            groups[index].events += 1
                            groups[index].trace.note(event)
                        } else if let name = event.series?.name, let index = byName[name] {
                            files[index].events += 1
                            files[index].trace!.note(event)
                        }
                    }
                    if keepSamples {
                        files[column].trace!.add(time: time, value: value, judged: engine.lastJudgement(for: series[column]))
                    }
                }
                if keepSamples {
                    for index in groups.indices { groups[index].trace.add(engine.lastGroupTrace(index)) }
                }
            case .skipped(let number, let reason):
                for index in files.indices { files[index].skipped += 1 }
                problem("\(path):\(number): skipped: \(reason)")
            }
        }
        let summaries = Dictionary(engine.summaries.map { ($0.series.name, $0) }, uniquingKeysWith: { first, _ in first })
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

    /// The attributes and detection settings a table's series take from an `[[input.replay]]` entry with its path;
    /// without one, `device` is the file's name (a table is one machine's recording), so that the series of several
    /// tables replayed together stay apart.
    private func tableIdentity(for path: String) -> (Attributes, SampleSource) {
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
                String(summary.samples).padded(to: 9), learning.padded(to: 10), String(summary.transitions).padded(to: 13),
                String(summary.suspensions).padded(to: 11), String(summary.episodes - summary.suppressed).padded(to: 11),
                String(summary.suppressed).padded(to: 12), String(summary.retainedComponents).padded(to: 12),
            ]
            lines.append(columns.joined())
        }
        return lines.joined(separator: "\n")
    }

    private static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        let rounded = (value * 1000).rounded() / 1000
        return String(rounded)
    }
}
