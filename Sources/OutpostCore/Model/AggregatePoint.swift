/// One series' samples over an interval, reduced to what an OTLP Summary carries: the interval's minimum and maximum,
/// and the count and sum of every sample since `start` (cumulative, so a skipped or lost interval is still counted
/// in the next one: a backend's mean over any span is Δsum / Δcount, as with Prometheus summaries).
package struct IntervalSummary: Sendable, Equatable {
    package let series: Series
    /// When counting began (unix nanoseconds): when this process first saw the series.
    package let start: Int64
    /// The end of the interval (unix nanoseconds).
    package let time: Int64
    package let count: UInt64
    package let sum: Double
    /// The interval's own extremes.
    package let min: Double
    package let max: Double

    package init(series: Series, start: Int64, time: Int64, count: UInt64, sum: Double, min: Double, max: Double) {
        self.series = series
        self.start = start
        self.time = time
        self.count = count
        self.sum = sum
        self.min = min
        self.max = max
    }
}

/// A point of an aggregated metrics batch (`aggregate` on an uplink): a gauge's interval summary, a counter's last
/// value in the interval (with its own cumulative start), or a sample sent as it is (Outpost's own metrics).
package enum AggregatePoint: Sendable {
    case summary(IntervalSummary)
    case sum(Sample, start: Int64)
    case sample(Sample)

    package var series: Series {
        switch self {
        case .summary(let summary): summary.series
        case .sum(let sample, _), .sample(let sample): sample.series
        }
    }
}
