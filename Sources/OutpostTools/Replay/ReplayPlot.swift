import OutpostCore
import OutpostDetect
import OutpostWire

/// What a replay plot shows of one series: every sample with the band it was judged against, and the episodes.
package struct ReplayTrace: Sendable {
    package let name: String
    package let unit: String
    package let sigma: Double
    package var times: [Int64] = []
    package var values: [Double] = []
    /// The baseline mean and deviation before the sample was seen (the band it was judged against).
    package var means: [Double] = []
    package var deviations: [Double] = []
    /// Raised and resolved times of each episode; an open episode ends with the recording.
    package var episodes: [(raised: Int64, resolved: Int64?)] = []
    package var thresholdTimes: [Int64] = []

    package init(name: String, unit: String, sigma: Double) {
        self.name = name
        self.unit = unit
        self.sigma = sigma
    }

    package mutating func add(time: Int64, value: Double, estimate: AnomalyDetector.Estimate?) {
        times.append(time)
        values.append(value)
        let warm = (estimate?.samples ?? 0) > 1
        means.append(warm ? estimate!.mean : .nan)
        deviations.append(warm ? estimate!.standardDeviation : .nan)
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
/// values, the band mean ± sigma·deviation, and the episodes shaded from raised to resolved.
///
/// Long recordings are reduced to at most `columns` time buckets per panel (each drawn as its min–max range), so a
/// week at 1 Hz stays a small file that a phone opens.
package enum ReplayPlot {
    package static let width = 1000.0
    package static let panelHeight = 240.0
    package static let columns = 500

    package static func render(_ traces: [ReplayTrace], html: Bool) -> String {
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) "
            + "\(Int(panelHeight * Double(max(1, traces.count))))\" width=\"100%\" font-family=\"sans-serif\" "
            + "font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (index, trace) in traces.enumerated() {
            svg += panel(trace, top: Double(index) * panelHeight)
        }
        svg += "</svg>\n"
        guard html else { return svg }
        return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
            + "content=\"width=device-width, initial-scale=1\"><title>outpost replay</title></head>\n"
            + "<body style=\"margin:0\">\n" + svg + "</body></html>\n"
    }

    private struct Bucket {
        var low = Double.infinity, high = -Double.infinity, sum = 0.0, count = 0
        var bandLow = Double.infinity, bandHigh = -Double.infinity
    }

    private static func panel(_ trace: ReplayTrace, top: Double) -> String {
        let left = 70.0, right = width - 10, plotTop = top + 28, plotBottom = top + panelHeight - 30
        var out = "<text x=\"\(left)\" y=\"\(top + 18)\" font-weight=\"bold\">\(escaped(trace.name))"
            + (trace.unit.isEmpty ? "" : " (\(escaped(trace.unit)))") + "</text>\n"
        out += "<text x=\"\(right)\" y=\"\(top + 18)\" text-anchor=\"end\" fill=\"#555\">"
            + "\(trace.values.count) samples, "
            + "\(trace.episodes.count) episodes, band ±\(formatted(trace.sigma))σ</text>\n"
        guard let first = trace.times.first, let last = trace.times.last else { return out }
        let buckets = bucketed(trace, first: first, last: last)
        var low = buckets.map(\.low).filter(\.isFinite).min() ?? 0
        var high = buckets.map(\.high).filter(\.isFinite).max() ?? 1
        if high - low < 1e-9 { low -= 1; high += 1 }
        let pad = (high - low) * 0.05
        low -= pad
        high += pad
        let span = Double(max(1, last - first))
        func x(_ time: Int64) -> Double { left + (right - left) * Double(time - first) / span }
        func y(_ value: Double) -> Double {
            plotBottom - (plotBottom - plotTop) * (min(max(value, low), high) - low) / (high - low)
        }
        func columnX(_ index: Int) -> Double { left + (right - left) * (Double(index) + 0.5) / Double(buckets.count) }
        out += "<rect x=\"\(left)\" y=\"\(plotTop)\" width=\"\(right - left)\" height=\"\(plotBottom - plotTop)\" "
            + "fill=\"none\" stroke=\"#ccc\"/>\n"
        for episode in trace.episodes {
            let start = x(episode.raised), end = max(start + 2, x(episode.resolved ?? last))
            out += "<rect x=\(quoted(start)) y=\(quoted(plotTop)) width=\(quoted(end - start)) "
                + "height=\(quoted(plotBottom - plotTop)) fill=\"#e53935\" fill-opacity=\"0.18\"/>\n"
            out += "<line x1=\(quoted(start)) x2=\(quoted(start)) y1=\(quoted(plotTop)) y2=\(quoted(plotBottom)) "
                + "stroke=\"#e53935\" stroke-width=\"1.5\"/>\n"
        }
        // The band: upper edge left to right, lower edge back, over the buckets where the baseline is warm.
        let warm = buckets.indices.filter { buckets[$0].bandLow.isFinite && buckets[$0].bandHigh.isFinite }
        if !warm.isEmpty {
            let upper = warm.map { "\(rounded(columnX($0))),\(rounded(y(buckets[$0].bandHigh)))" }
            let lower = warm.reversed().map { "\(rounded(columnX($0))),\(rounded(y(buckets[$0].bandLow)))" }
            out += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"#1e88e5\" "
                + "fill-opacity=\"0.18\" stroke=\"none\"/>\n"
        }
        let filled = buckets.indices.filter { buckets[$0].count > 0 }
        let envelope = filled.map {
            "M\(rounded(columnX($0))) \(rounded(y(buckets[$0].low)))V\(rounded(y(buckets[$0].high)))"
        }
        out += "<path d=\"\(envelope.joined())\" stroke=\"#333\" stroke-width=\"1.2\" fill=\"none\"/>\n"
        let line = filled.map { "\(rounded(columnX($0))),\(rounded(y(buckets[$0].sum / Double(buckets[$0].count))))" }
        out += "<polyline points=\"\(line.joined(separator: " "))\" stroke=\"#333\" stroke-width=\"1\" "
            + "fill=\"none\"/>\n"
        for time in trace.thresholdTimes {
            out += "<circle cx=\(quoted(x(time))) cy=\(quoted(plotTop + 4)) r=\"3\" fill=\"#fb8c00\"/>\n"
        }
        out += axisLabels(low: low, high: high, first: first, last: last, left: left, right: right,
                          plotTop: plotTop, plotBottom: plotBottom)
        return out
    }

    private static func bucketed(_ trace: ReplayTrace, first: Int64, last: Int64) -> [Bucket] {
        let count = min(columns, max(1, trace.times.count))
        var buckets = Array(repeating: Bucket(), count: count)
        let span = Double(max(1, last - first))
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
        }
        return buckets
    }

    private static func axisLabels(low: Double, high: Double, first: Int64, last: Int64, left: Double, right: Double,
                                   plotTop: Double, plotBottom: Double) -> String {
        var out = ""
        for value in [low, (low + high) / 2, high] {
            let y = plotBottom - (plotBottom - plotTop) * (value - low) / (high - low)
            out += "<text x=\(quoted(left - 6)) y=\(quoted(y + 4)) text-anchor=\"end\" fill=\"#555\">"
                + "\(formatted(value))</text>\n"
        }
        let start = String(RFC3339.format(first).prefix(16)), end = String(RFC3339.format(last).prefix(16))
        out += "<text x=\(quoted(left)) y=\(quoted(plotBottom + 18)) fill=\"#555\">\(start)</text>\n"
        out += "<text x=\(quoted(right)) y=\(quoted(plotBottom + 18)) text-anchor=\"end\" fill=\"#555\">\(end)</text>\n"
        return out
    }

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
