import OutpostCore
import OutpostDetect
import OutpostWire

/// What a replay plot shows of one series: every sample with the band it was judged against, how likely the rules
/// found it, and the episodes.
package struct ReplayTrace: Sendable {
    package let name: String
    package let unit: String
    package let sigma: Double
    /// The likelihood threshold: the score lane draws it as a line at −log10 of it.
    package let threshold: Double
    package var times: [Int64] = []
    package var values: [Double] = []
    /// The mean and deviation the sample was judged against (the time-of-day profile's where it judged).
    package var means: [Double] = []
    package var deviations: [Double] = []
    /// −log10 of the likelihood the rules gave the sample (0 within sigma, NaN during warm-up).
    package var surprises: [Double] = []
    /// Samples judged by the time-of-day profile.
    package var seasonalSamples = 0
    /// Raised and resolved times of each episode; an open episode ends with the recording.
    package var episodes: [(raised: Int64, resolved: Int64?)] = []
    package var thresholdTimes: [Int64] = []

    package init(name: String, unit: String, sigma: Double, threshold: Double) {
        self.name = name
        self.unit = unit
        self.sigma = sigma
        self.threshold = threshold
    }

    /// Adds a sample with what detection made of it (nil while the baseline warms up).
    package mutating func add(time: Int64, value: Double, judged: (judgement: Judgement, likelihood: Double?)?) {
        times.append(time)
        values.append(value)
        guard let judged, judged.judgement.time == time else {
            means.append(.nan)
            deviations.append(.nan)
            surprises.append(.nan)
            return
        }
        means.append(judged.judgement.expectedMean)
        deviations.append(judged.judgement.deviation)
        surprises.append(judged.likelihood.map { -Mathematics.log10(max($0, 1e-300)) } ?? .nan)
        if judged.judgement.isSeasonal { seasonalSamples += 1 }
    }

    package mutating func note(_ event: Event) {
        switch event.name {
        case .anomalyRaised: episodes.append((event.time, nil))
        case .anomalyResolved where !episodes.isEmpty: episodes[episodes.count - 1].resolved = event.time
        case .thresholdCrossed: thresholdTimes.append(event.time)
        default: break
        }
    }
}

/// Draws replay traces as one self-contained SVG (or an HTML page around it): one panel per series with its
/// values, the band mean ± sigma·deviation it was judged against (it follows the time-of-day profile where that
/// judged), the episodes shaded from raised to resolved, a time axis, and under it a lane with how unlikely the
/// rules found each sample (−log10 of the likelihood, the threshold dashed).
///
/// Long recordings are reduced to at most `columns` time buckets per panel (each drawn as its min–max range), so a
/// week at 1 Hz stays a small file that a phone opens. The HTML page also shows the time, value range and score of
/// the bucket under the pointer.
package enum ReplayPlot {
    package static let width = 1000.0
    package static let valueHeight = 240.0
    package static let laneHeight = 80.0
    package static var panelHeight: Double { valueHeight + laneHeight + 20 }
    package static let columns = 500

    /// One panel of a plot: a series, or a group (drawn under its members).
    package enum Panel: Sendable {
        case series(ReplayTrace)
        case group(ReplayGroupTrace)

        var height: Double {
            switch self {
            case .series: ReplayPlot.panelHeight
            case .group: ReplayGroupPlot.panelHeight
            }
        }
    }

    package static func render(_ traces: [ReplayTrace], html: Bool) -> String {
        render(panels: traces.map(Panel.series), html: html)
    }

    package static func render(panels: [Panel], html: Bool) -> String {
        let height = panels.isEmpty ? panelHeight : panels.reduce(0) { $0 + $1.height }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) "
            + "\(Int(height))\" width=\"100%\" font-family=\"sans-serif\" "
            + "font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        var data: [String] = []
        var top = 0.0
        for panel in panels {
            switch panel {
            case .series(let trace):
                let (drawn, buckets) = self.panel(trace, top: top)
                svg += drawn
                data.append(buckets)
            case .group(let trace):
                svg += ReplayGroupPlot.panel(trace, top: top)
            }
            top += panel.height
        }
        svg += "</svg>\n"
        guard html else { return svg }
        return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
            + "content=\"width=device-width, initial-scale=1\"><title>outpost replay</title></head>\n"
            + "<body style=\"margin:0\">\n<div id=\"tip\" style=\"position:fixed;display:none;background:#fff;"
            + "border:1px solid #999;padding:2px 6px;font:12px sans-serif;pointer-events:none\"></div>\n"
            + svg + pointerScript(data) + "</body></html>\n"
    }

    private struct Bucket {
        var low = Double.infinity, high = -Double.infinity, sum = 0.0, count = 0
        var bandLow = Double.infinity, bandHigh = -Double.infinity
        var surprise = -Double.infinity
        var start: Int64 = 0
    }

    private struct Geometry {
        let left = 70.0, right = ReplayPlot.width - 10
        let top: Double, plotTop: Double, plotBottom: Double, laneTop: Double, laneBottom: Double
        let first: Int64, last: Int64

        init(top: Double, first: Int64, last: Int64) {
            self.top = top
            plotTop = top + 28
            plotBottom = top + ReplayPlot.valueHeight - 10
            laneTop = plotBottom + 34
            laneBottom = laneTop + ReplayPlot.laneHeight - 20
            self.first = first
            self.last = last
        }

        func x(_ time: Int64) -> Double { left + (right - left) * Double(time - first) / Double(max(1, last - first)) }
        func column(_ index: Int, of count: Int) -> Double {
            left + (right - left) * (Double(index) + 0.5) / Double(count)
        }
    }

    private static func panel(_ trace: ReplayTrace, top: Double) -> (svg: String, data: String) {
        var out = "<text x=\"70\" y=\"\(top + 18)\" font-weight=\"bold\">\(escaped(trace.name))"
            + (trace.unit.isEmpty ? "" : " (\(escaped(trace.unit)))") + "</text>\n"
        let seasonal = trace.seasonalSamples > 0 ? ", time-of-day band where the profile judged" : ""
        out += "<text x=\"\(width - 10)\" y=\"\(top + 18)\" text-anchor=\"end\" fill=\"#555\">"
            + "\(trace.values.count) samples, "
            + "\(trace.episodes.count) episodes, band ±\(formatted(trace.sigma))σ\(seasonal)</text>\n"
        guard let first = trace.times.first, let last = trace.times.last else { return (out, "[]") }
        let geometry = Geometry(top: top, first: first, last: last)
        let buckets = bucketed(trace, first: first, last: last)
        out += valuePlot(trace, buckets, geometry)
        out += timeAxis(geometry)
        out += scoreLane(trace, buckets, geometry)
        return (out, bucketData(buckets, geometry))
    }

    private static func valuePlot(_ trace: ReplayTrace, _ buckets: [Bucket], _ g: Geometry) -> String {
        var low = buckets.map(\.low).filter(\.isFinite).min() ?? 0
        var high = buckets.map(\.high).filter(\.isFinite).max() ?? 1
        if high - low < 1e-9 { low -= 1; high += 1 }
        let pad = (high - low) * 0.05
        low -= pad
        high += pad
        func y(_ value: Double) -> Double {
            g.plotBottom - (g.plotBottom - g.plotTop) * (min(max(value, low), high) - low) / (high - low)
        }
        func column(_ index: Int) -> Double { g.column(index, of: buckets.count) }
        var out = "<rect x=\"\(g.left)\" y=\"\(g.plotTop)\" width=\"\(g.right - g.left)\" "
            + "height=\"\(g.plotBottom - g.plotTop)\" fill=\"none\" stroke=\"#ccc\"/>\n"
        for episode in trace.episodes {
            let start = g.x(episode.raised), end = max(start + 2, g.x(episode.resolved ?? g.last))
            out += "<rect x=\(quoted(start)) y=\(quoted(g.plotTop)) width=\(quoted(end - start)) "
                + "height=\(quoted(g.plotBottom - g.plotTop)) fill=\"#e53935\" fill-opacity=\"0.18\"/>\n"
            out += "<line x1=\(quoted(start)) x2=\(quoted(start)) y1=\(quoted(g.plotTop)) y2=\(quoted(g.laneBottom)) "
                + "stroke=\"#e53935\" stroke-width=\"1.5\"/>\n"
        }
        // The band: upper edge left to right, lower edge back, over the buckets where the baseline is warm.
        let warm = buckets.indices.filter { buckets[$0].bandLow.isFinite && buckets[$0].bandHigh.isFinite }
        if !warm.isEmpty {
            let upper = warm.map { "\(rounded(column($0))),\(rounded(y(buckets[$0].bandHigh)))" }
            let lower = warm.reversed().map { "\(rounded(column($0))),\(rounded(y(buckets[$0].bandLow)))" }
            out += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"#1e88e5\" "
                + "fill-opacity=\"0.18\" stroke=\"none\"/>\n"
        }
        let filled = buckets.indices.filter { buckets[$0].count > 0 }
        let envelope = filled.map {
            "M\(rounded(column($0))) \(rounded(y(buckets[$0].low)))V\(rounded(y(buckets[$0].high)))"
        }
        out += "<path d=\"\(envelope.joined())\" stroke=\"#333\" stroke-width=\"1.2\" fill=\"none\"/>\n"
        let line = filled.map { "\(rounded(column($0))),\(rounded(y(buckets[$0].sum / Double(buckets[$0].count))))" }
        out += "<polyline points=\"\(line.joined(separator: " "))\" stroke=\"#333\" stroke-width=\"1\" "
            + "fill=\"none\"/>\n"
        for time in trace.thresholdTimes {
            out += "<circle cx=\(quoted(g.x(time))) cy=\(quoted(g.plotTop + 4)) r=\"3\" fill=\"#fb8c00\"/>\n"
        }
        for value in [low, (low + high) / 2, high] {
            out += "<text x=\(quoted(g.left - 6)) y=\(quoted(y(value) + 4)) text-anchor=\"end\" fill=\"#555\">"
                + "\(formatted(value))</text>\n"
        }
        return out
    }

    /// The score lane: −log10 of each bucket's smallest likelihood, from 0 to the larger of twice the threshold's
    /// and the highest score, the threshold dashed.
    private static func scoreLane(_ trace: ReplayTrace, _ buckets: [Bucket], _ g: Geometry) -> String {
        let line = -log10(trace.threshold)
        let highest = buckets.map(\.surprise).filter(\.isFinite).max() ?? 0
        let top = max(2 * line, min(highest, 100), 1)
        func y(_ score: Double) -> Double { g.laneBottom - (g.laneBottom - g.laneTop) * min(score, top) / top }
        var out = "<rect x=\"\(g.left)\" y=\"\(g.laneTop)\" width=\"\(g.right - g.left)\" "
            + "height=\"\(g.laneBottom - g.laneTop)\" fill=\"none\" stroke=\"#ccc\"/>\n"
        out += "<text x=\(quoted(g.left - 6)) y=\(quoted(g.laneTop + 10)) text-anchor=\"end\" fill=\"#555\" "
            + "font-size=\"11\">−log₁₀ p</text>\n"
        out += "<text x=\(quoted(g.left - 6)) y=\(quoted(y(line) + 4)) text-anchor=\"end\" fill=\"#8e24aa\" "
            + "font-size=\"11\">\(formatted(line))</text>\n"
        let scored = buckets.indices.filter { buckets[$0].surprise.isFinite }
        if !scored.isEmpty {
            let points = scored.map {
                "\(rounded(g.column($0, of: buckets.count))),\(rounded(y(buckets[$0].surprise)))"
            }
            let base = "\(rounded(g.column(scored.last!, of: buckets.count))),\(rounded(g.laneBottom)) "
                + "\(rounded(g.column(scored.first!, of: buckets.count))),\(rounded(g.laneBottom))"
            out += "<polygon points=\"\(points.joined(separator: " ")) \(base)\" fill=\"#8e24aa\" "
                + "fill-opacity=\"0.35\" stroke=\"#8e24aa\" stroke-width=\"0.8\"/>\n"
        }
        out += "<line x1=\(quoted(g.left)) x2=\(quoted(g.right)) y1=\(quoted(y(line))) y2=\(quoted(y(line))) "
            + "stroke=\"#8e24aa\" stroke-dasharray=\"4 3\"/>\n"
        return out
    }

    /// Ticks at a round step (minutes to weeks) that gives 4 to 10 of them, labelled in UTC.
    private static func timeAxis(_ g: Geometry) -> String {
        let span = Double(g.last - g.first) / 1e9
        let steps: [Double] = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400,
                               2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400]
        let step = steps.first { span / $0 <= 10 } ?? 56 * 86400
        let stepNanos = Int64(step * 1e9)
        var tick = (g.first / stepNanos + (g.first % stepNanos == 0 ? 0 : 1)) * stepNanos
        let withDate = span > 86400 || step >= 86400
        var out = ""
        while tick <= g.last {
            let x = g.x(tick)
            out += "<line x1=\(quoted(x)) x2=\(quoted(x)) y1=\(quoted(g.plotBottom)) y2=\(quoted(g.plotBottom + 5)) "
                + "stroke=\"#999\"/>\n"
            let text = RFC3339.format(tick)
            let label = withDate ? String(text.dropFirst(5).prefix(11)).replacing("T", with: " ")
                : String(text.dropFirst(11).prefix(step < 60 ? 8 : 5))
            out += "<text x=\(quoted(x)) y=\(quoted(g.plotBottom + 18)) text-anchor=\"middle\" fill=\"#555\" "
                + "font-size=\"11\">\(label)</text>\n"
            tick += stepNanos
        }
        return out
    }

    private static func bucketed(_ trace: ReplayTrace, first: Int64, last: Int64) -> [Bucket] {
        let count = min(columns, max(1, trace.times.count))
        var buckets = Array(repeating: Bucket(), count: count)
        let span = Double(max(1, last - first))
        for index in buckets.indices { buckets[index].start = first + Int64(span * Double(index) / Double(count)) }
        for index in trace.times.indices {
            let column = min(count - 1, Int(Double(trace.times[index] - first) / span * Double(count)))
            let value = trace.values[index]
            buckets[column].low = min(buckets[column].low, value)
            buckets[column].high = max(buckets[column].high, value)
            buckets[column].sum += value
            buckets[column].count += 1
            let mean = trace.means[index], deviation = trace.deviations[index]
            if mean.isFinite, deviation.isFinite {
                buckets[column].bandLow = min(buckets[column].bandLow, mean - trace.sigma * deviation)
                buckets[column].bandHigh = max(buckets[column].bandHigh, mean + trace.sigma * deviation)
            }
            let surprise = trace.surprises[index]
            if surprise.isFinite { buckets[column].surprise = max(buckets[column].surprise, surprise) }
        }
        return buckets
    }

    /// `[left, right, top, bottom, [[time, low, high, score], ...]]` for the pointer script.
    private static func bucketData(_ buckets: [Bucket], _ g: Geometry) -> String {
        let rows = buckets.map { bucket -> String in
            guard bucket.count > 0 else { return "null" }
            let score = bucket.surprise.isFinite ? formatted(bucket.surprise) : "null"
            return "[\"\(RFC3339.format(bucket.start).prefix(19).replacing("T", with: " "))\","
                + "\(formatted(bucket.low)),\(formatted(bucket.high)),\(score)]"
        }
        return "[\(rounded(g.left)),\(rounded(g.right)),\(rounded(g.top)),\(rounded(g.laneBottom)),"
            + "[\(rows.joined(separator: ","))]]"
    }

    private static func pointerScript(_ panels: [String]) -> String {
        """
        <script>
        const panels = [\(panels.joined(separator: ",\n"))];
        const svg = document.querySelector("svg"), tip = document.getElementById("tip");
        svg.addEventListener("mousemove", (event) => {
          const point = svg.createSVGPoint();
          point.x = event.clientX; point.y = event.clientY;
          const at = point.matrixTransform(svg.getScreenCTM().inverse());
          const panel = panels.find((p) => at.y >= p[2] && at.y <= p[3] && at.x >= p[0] && at.x <= p[1]);
          const rows = panel ? panel[4] : [];
          const place = panel ? Math.floor((at.x - panel[0]) / (panel[1] - panel[0]) * rows.length) : 0;
          const row = panel ? rows[Math.min(rows.length - 1, place)] : null;
          if (!row) { tip.style.display = "none"; return; }
          tip.textContent = row[0] + "  value " + (row[1] === row[2] ? row[1] : row[1] + " to " + row[2])
            + (row[3] === null ? "" : "  score " + row[3]);
          tip.style.left = (event.clientX + 12) + "px"; tip.style.top = (event.clientY + 12) + "px";
          tip.style.display = "block";
        });
        svg.addEventListener("mouseleave", () => { tip.style.display = "none"; });
        </script>

        """
    }

    private static func log10(_ x: Double) -> Double { Mathematics.log10(x) }

    private static func rounded(_ value: Double) -> String {
        String((value * 10).rounded() / 10)
    }

    private static func quoted(_ value: Double) -> String { "\"\(rounded(value))\"" }

    private static func formatted(_ value: Double) -> String {
        let magnitude = abs(value)
        let scale = magnitude >= 100 ? 1.0 : magnitude >= 1 ? 100.0 : 10000.0
        let rounded = (value * scale).rounded() / scale
        return rounded == rounded.rounded() && magnitude < 1e15 ? String(Int64(rounded)) : String(rounded)
    }

    private static func escaped(_ text: String) -> String {
        text.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
    }
}
