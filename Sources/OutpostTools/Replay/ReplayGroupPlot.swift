import OutpostCore
import OutpostDetect

/// What a replay plot shows of one group: its confirmed T² and Q at every judged group sample with the limits they
/// raise beyond and the textbook control limits, the transitions and suspensions it did not judge, and its episodes.
package struct ReplayGroupTrace: Sendable {
    package let name: String
    package var times: [Int64] = []
    /// Per group sample: the statistics and limits (NaN where the sample was not judged) and its state.
    package var t2: [Double] = []
    package var q: [Double] = []
    package var t2Limits: [Double] = []
    package var qLimits: [Double] = []
    package var t2Controls: [Double] = []
    package var qControls: [Double] = []
    package var states: [GroupTrace.State] = []
    /// Raised and resolved times of each episode, and the statistic that raised it; an open episode ends with the
    /// recording.
    package var episodes: [(raised: Int64, resolved: Int64?, statistic: String)] = []

    package init(name: String) { self.name = name }

    /// Adds the group's newest judged (or skipped) sample, once.
    package mutating func add(_ trace: GroupTrace?) {
        guard let trace, trace.time > (times.last ?? .min) else { return }
        times.append(trace.time)
        t2.append(trace.t2)
        q.append(trace.q)
        t2Limits.append(trace.t2Limit)
        qLimits.append(trace.qLimit)
        t2Controls.append(trace.t2Control)
        qControls.append(trace.qControl)
        states.append(trace.state)
    }

    package mutating func note(_ event: Event) {
        switch event.name {
        case .anomalyRaised:
            var statistic = ""
            if case .string(let name)? = event.attributes["outpost.group.statistic"] { statistic = name }
            episodes.append((event.time, nil, statistic))
        case .anomalyResolved where !episodes.isEmpty: episodes[episodes.count - 1].resolved = event.time
        default: break
        }
    }
}

/// Draws a group's panel under its members' (see `ReplayPlot`): one lane for T² and one for Q on a logarithmic
/// scale, each with its confirmed value (the envelope of each time bucket), the limit it raises beyond (red, dashed)
/// and the textbook 99 % control limit (grey, dashed); episodes shaded red from raised to resolved, transitions and
/// suspensions marked grey under the lanes, and the learning period left blank.
enum ReplayGroupPlot {
    static let laneHeight = 110.0
    static var panelHeight: Double { 2 * laneHeight + 70 }

    private struct Bucket {
        var t2 = -Double.infinity, q = -Double.infinity
        var t2Limit = Double.nan, qLimit = Double.nan, t2Control = Double.nan, qControl = Double.nan
        var skipped = false
    }

    static func panel(_ trace: ReplayGroupTrace, top: Double) -> String {
        var out = "<text x=\"70\" y=\"\(top + 18)\" font-weight=\"bold\">group \(escaped(trace.name))</text>\n"
        let judged = trace.states.count { $0 == .judged }
        out += "<text x=\"\(ReplayPlot.width - 10)\" y=\"\(top + 18)\" text-anchor=\"end\" fill=\"#555\">"
            + "\(trace.times.count) group samples, \(judged) judged, \(trace.episodes.count) episodes</text>\n"
        guard let first = trace.times.first, let last = trace.times.last else { return out }
        let left = 70.0, right = ReplayPlot.width - 10
        func x(_ time: Int64) -> Double { left + (right - left) * Double(time - first) / Double(max(1, last - first)) }
        let buckets = bucketed(trace, first: first, last: last)
        func column(_ index: Int) -> Double { left + (right - left) * (Double(index) + 0.5) / Double(buckets.count) }
        for (lane, statistic) in [GroupStatistic.t2, .q].enumerated() {
            let laneTop = top + 30 + Double(lane) * (laneHeight + 10), laneBottom = laneTop + laneHeight
            out += "<rect x=\"\(left)\" y=\"\(laneTop)\" width=\"\(right - left)\" height=\"\(laneHeight)\" "
                + "fill=\"none\" stroke=\"#ccc\"/>\n"
            for episode in trace.episodes where episode.statistic == statistic.rawValue || episode.statistic.isEmpty {
                let start = x(episode.raised), end = max(start + 2, x(episode.resolved ?? last))
                out += "<rect x=\(quoted(start)) y=\(quoted(laneTop)) width=\(quoted(end - start)) "
                    + "height=\(quoted(laneHeight)) fill=\"#e53935\" fill-opacity=\"0.18\"/>\n"
            }
            out += drawLane(buckets, statistic, top: laneTop, bottom: laneBottom, column: column)
        }
        // Transitions and suspensions: not judged.
        let markTop = top + 30 + 2 * (laneHeight + 10)
        for index in buckets.indices where buckets[index].skipped {
            out += "<rect x=\(quoted(column(index) - 1)) y=\(quoted(markTop)) width=\"2\" height=\"6\" "
                + "fill=\"#999\"/>\n"
        }
        out += "<text x=\(quoted(left)) y=\(quoted(markTop + 20)) fill=\"#555\" font-size=\"11\">"
            + "\(escaped(RFC3339.format(first).prefix(16).replacing("T", with: " "))) to "
            + "\(escaped(RFC3339.format(last).prefix(16).replacing("T", with: " "))) UTC; grey ticks: "
            + "transitions and suspensions, not judged</text>\n"
        return out
    }

    private static func drawLane(_ buckets: [Bucket], _ statistic: GroupStatistic, top: Double, bottom: Double,
                             column: (Int) -> Double) -> String {
        let values = buckets.map { statistic == .t2 ? $0.t2 : $0.q }
        let limits = buckets.map { statistic == .t2 ? $0.t2Limit : $0.qLimit }
        let controls = buckets.map { statistic == .t2 ? $0.t2Control : $0.qControl }
        let shown = (values + limits + controls).filter { $0.isFinite && $0 > 0 }
        // The statistic's name at the lane's middle, clear of the scale's values at its top and bottom.
        var out = "<text x=\(quoted(64)) y=\(quoted((top + bottom) / 2 + 4)) text-anchor=\"end\" fill=\"#555\" "
            + "font-size=\"12\" font-weight=\"bold\">\(statistic.symbol)</text>\n"
        guard let smallest = shown.min(), let largest = shown.max() else { return out }
        let low = Mathematics.log10(max(smallest, 1e-12)) - 0.1, high = Mathematics.log10(largest) + 0.1
        func y(_ value: Double) -> Double {
            let logarithm = Mathematics.log10(max(value, 1e-12))
            return bottom - (bottom - top) * (min(max(logarithm, low), high) - low) / max(high - low, 1e-9)
        }
        func point(_ index: Int, _ value: Double) -> String { "\(rounded(column(index))),\(rounded(y(value)))" }
        let points = values.indices.filter { values[$0].isFinite }.map { point($0, values[$0]) }
        if !points.isEmpty {
            out += "<polyline points=\"\(points.joined(separator: " "))\" stroke=\"#333\" stroke-width=\"1\" "
                + "fill=\"none\"/>\n"
        }
        for (series, colour) in [(limits, "#e53935"), (controls, "#999")] {
            let line = series.indices.filter { series[$0].isFinite }.map { point($0, series[$0]) }
            if !line.isEmpty {
                out += "<polyline points=\"\(line.joined(separator: " "))\" stroke=\"\(colour)\" stroke-width=\"1\" "
                    + "stroke-dasharray=\"4 3\" fill=\"none\"/>\n"
            }
        }
        for value in [smallest, largest] {
            out += "<text x=\(quoted(64)) y=\(quoted(y(value) + 4)) text-anchor=\"end\" fill=\"#555\" font-size=\"11\">"
                + "\(short(value))</text>\n"
        }
        return out
    }

    private static func bucketed(_ trace: ReplayGroupTrace, first: Int64, last: Int64) -> [Bucket] {
        let count = min(ReplayPlot.columns, max(1, trace.times.count))
        var buckets = Array(repeating: Bucket(), count: count)
        let span = Double(max(1, last - first))
        for index in trace.times.indices {
            let column = min(count - 1, Int(Double(trace.times[index] - first) / span * Double(count)))
            guard trace.states[index] == .judged else {
                if trace.states[index] != .learning { buckets[column].skipped = true }
                continue
            }
            buckets[column].t2 = max(buckets[column].t2, trace.t2[index])
            buckets[column].q = max(buckets[column].q, trace.q[index])
            buckets[column].t2Limit = trace.t2Limits[index]
            buckets[column].qLimit = trace.qLimits[index]
            buckets[column].t2Control = trace.t2Controls[index]
            buckets[column].qControl = trace.qControls[index]
        }
        return buckets
    }

    private static func short(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        if value >= 100 { return String(Int64(value.rounded())) }
        return String((value * 100).rounded() / 100)
    }

    private static func rounded(_ value: Double) -> String { String((value * 10).rounded() / 10) }

    private static func quoted(_ value: Double) -> String { "\"\(rounded(value))\"" }

    private static func escaped(_ text: some StringProtocol) -> String {
        String(text).replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
    }
}
