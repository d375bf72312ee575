import OutpostCore
import OutpostRuntime
import OutpostDetect
import OutpostInputs
import OutpostWire

/// Runs detection over recorded CSV files as fast as it can, for tuning `[detect]` without a gateway.
///
/// Each file is one series (named by its `[[input.replay]]` entry with the same path, or after the file), with a
/// detection engine of its own, so files with different time ranges never disturb each other.
package struct ReplayRunner {
    package let configuration: OutpostConfiguration?
    package let detection: DetectionConfiguration

    package init(configuration: OutpostConfiguration?) {
        self.configuration = configuration
        self.detection = configuration?.detection ?? DetectionConfiguration()
    }

    /// Totals for one replayed file.
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

    /// Replays `path`; each event goes to `emit` as alert JSON, each skipped row to `problem`.
    package func replay(path: String, keepSamples: Bool = false, emit: (String) -> Void,
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

    /// A fixed-width table of the summaries, one line per file.
    package static func table(_ summaries: [FileSummary]) -> String {
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
        return lines.joined(separator: "\n")
    }

    private static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        let rounded = (value * 1000).rounded() / 1000
        return String(rounded)
    }
}
