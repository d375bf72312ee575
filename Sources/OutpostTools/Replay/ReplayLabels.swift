import OutpostCore
import OutpostInputs

/// Labelled anomaly windows (`outpost replay --labels FILE`) and how a replay's episodes score against them.
///
/// The file is CSV: `series,start,end[,kind]`, one window per line (a header line, blank lines and `#` comments are
/// skipped), times as in replay files (RFC 3339, `YYYY-MM-DD HH:MM:SS` or unix seconds), `end` inclusive. An
/// episode raised inside a window, or within 10 sample intervals after it, finds that window; any other episode is
/// a false one.
package struct ReplayLabels: Sendable {
    package struct Window: Sendable, Equatable {
        package let series: String
        package let start: Int64
        package let end: Int64
        package let kind: String
    }

    package let windows: [Window]

    /// Parses `text`; each bad line is reported as `file:line: ...` and skipped.
    package static func parse(_ text: String, path: String, problem: (String) -> Void) -> ReplayLabels {
        var windows: [Window] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine).trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") || line.lowercased().hasPrefix("series,") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { String($0).trimmingSpaces() }
            guard fields.count == 3 || fields.count == 4,
                let start = Timestamp.parse(fields[1]), let end = Timestamp.parse(fields[2]), end >= start
            else {
                problem("\(path):\(index + 1): skipped: expected `series,start,end[,kind]` with start <= end")
                continue
            }
            windows.append(Window(series: fields[0], start: start, end: end, kind: fields.count == 4 ? fields[3] : ""))
        }
        return ReplayLabels(windows: windows)
    }

    /// The score of a replay: episodes against windows, over every replayed series that has labels or episodes.
    package struct Score: Sendable, Equatable {
        package var episodes = 0
        package var trueEpisodes = 0
        package var windows = 0
        package var windowsFound = 0
        package var days = 0.0

        package var precision: Double { episodes == 0 ? 1 : Double(trueEpisodes) / Double(episodes) }
        package var recall: Double { windows == 0 ? 1 : Double(windowsFound) / Double(windows) }
        package var falseEpisodesPerDay: Double { days > 0 ? Double(episodes - trueEpisodes) / days : 0 }
    }

    package func score(_ summaries: [ReplayRunner.FileSummary]) -> Score {
        var score = Score()
        for summary in summaries {
            guard let trace = summary.trace, let stats = summary.series, summary.rows > 1 else { continue }
            let mine = windows.filter { $0.series == trace.name }
            let interval = (stats.lastTime - stats.firstTime) / Int64(summary.rows - 1)
            let grace = 10 * interval
            var found = Set<Int>()
            for episode in trace.episodes {
                score.episodes += 1
                if let hit = mine.indices.first(where: { mine[$0].start <= episode.raised
                    && episode.raised <= mine[$0].end + grace })
                {
                    score.trueEpisodes += 1
                    found.insert(hit)
                }
            }
            score.windows += mine.count
            score.windowsFound += found.count
            score.days += Double(stats.lastTime - stats.firstTime) / 86_400e9
        }
        return score
    }

    /// The score of a replay's series and its groups (a group's windows name the group as their series).
    package func score(_ summaries: [ReplayRunner.FileSummary], groups: [ReplayRunner.GroupSummary]) -> Score {
        var score = score(summaries)
        for group in groups where group.summary.samples > 1 {
            let mine = windows.filter { $0.series == group.summary.name }
            let grace = 10 * (group.lastTime - group.firstTime) / Int64(group.summary.samples - 1)
            var found = Set<Int>()
            for episode in group.trace.episodes {
                score.episodes += 1
                if let hit = mine.indices.first(where: { mine[$0].start <= episode.raised
                    && episode.raised <= mine[$0].end + grace })
                {
                    score.trueEpisodes += 1
                    found.insert(hit)
                }
            }
            score.windows += mine.count
            score.windowsFound += found.count
            score.days += Double(group.lastTime - group.firstTime) / 86_400e9
        }
        return score
    }

    package static func report(_ score: Score) -> String {
        func percent(_ value: Double) -> String { String((value * 1000).rounded() / 10) + " %" }
        func hundredths(_ value: Double) -> String { String((value * 100).rounded() / 100) }
        return "labels: \(score.trueEpisodes) of \(score.episodes) episodes inside a labelled window (precision "
            + "\(percent(score.precision))), \(score.windowsFound) of \(score.windows) windows found (recall "
            + "\(percent(score.recall))), \(score.episodes - score.trueEpisodes) false episodes over "
            + "\(String((score.days * 10).rounded() / 10)) days (\(hundredths(score.falseEpisodesPerDay))"
            + " per day)"
    }
}
