import OutpostCore

/// Reduces every sample of each series to one point per interval (`aggregate = "1m"` on an uplink): a gauge to its
/// interval's minimum, maximum and the cumulative count and sum (an OTLP Summary, `IntervalSummary`), a counter to its
/// last value in the interval. Intervals are aligned to the interval's multiples of unix time (a `1m` interval ends
/// on every minute) and keyed by the samples' own timestamps, so a replay aggregates as the live run did.
///
/// An interval closes when a sample of a later one arrives, or `grace` after its end (on the batcher's tick): a
/// sample stamped at 59.9 s that reaches the batcher at 60.1 s still counts in its minute. "After its end" is read
/// on the samples' own clock: the latest sample time seen, moved on by the monotonic time since it was seen. So a
/// replay of last week closes its intervals as it goes (the wall clock would close them all at once), and a wall
/// clock stepped by NTP neither holds an interval open nor closes it early.
package struct IntervalAggregator: Sendable {
    package let interval: Int64
    package let grace: Int64

    /// One interval's figures so far.
    package struct Bucket: Sendable {
        package var start: Int64
        package var min: Double
        package var max: Double
        package var sum: Double
        package var count: UInt64
        /// A counter's latest sample in the interval.
        package var last: Sample?
    }

    private struct SeriesState {
        /// Cumulative count and sum since `since` (gauges), or the counter's cumulative start.
        var since: Int64
        var count: UInt64 = 0
        var sum: Double = 0
        var open: Bucket?
        /// A counter's previous value, to notice a reset.
        var lastValue: Double?
        var lastTime: Int64 = 0
    }

    /// A closed interval: the point to send, and the values report-on-change compares (a gauge's minimum, maximum
    /// and mean; a counter's value).
    package struct Closed: Sendable {
        package let point: AggregatePoint
        package let values: [Double]
        package let time: Int64
    }

    private var states: [Series: SeriesState] = [:]
    /// The latest sample time seen, and the monotonic time it was seen at.
    private var latest: (time: Int64, seenAt: Int64)?

    package init(interval: Duration, grace: Duration? = nil) {
        self.interval = max(1, UnixNanos.from(interval))
        let defaultGrace = min(UnixNanos.from(.seconds(5)), self.interval / 4)
        self.grace = grace.map(UnixNanos.from) ?? defaultGrace
    }

    package var seriesCount: Int { states.count }

    /// Adds `sample`, seen at `monotonic` nanoseconds; returns what it closed (its series' earlier interval).
    package mutating func add(_ sample: Sample, at monotonic: Int64 = 0) -> [Closed] {
        if latest.map({ sample.time > $0.time }) ?? true { latest = (sample.time, monotonic) }
        let start = floorMultiple(sample.time)
        var state = states[sample.series] ?? SeriesState(since: sample.time)
        var closed: [Closed] = []
        if let open = state.open, open.start != start {
            closed.append(close(open, series: sample.series, state: state))
            state.open = nil
        }
        if sample.series.kind == .counter, let previous = state.lastValue, sample.value < previous {
            // A reset: what came before it closes with the old start; a new cumulative series begins just after.
            if let open = state.open { closed.append(close(open, series: sample.series, state: state)) }
            state.open = nil
            state.since = state.lastTime < sample.time ? state.lastTime + 1 : sample.time
        }
        var bucket = state.open ?? Bucket(start: start, min: sample.value, max: sample.value, sum: 0, count: 0)
        bucket.min = Swift.min(bucket.min, sample.value)
        bucket.max = Swift.max(bucket.max, sample.value)
        bucket.sum += sample.value
        bucket.count += 1
        bucket.last = sample
        state.open = bucket
        state.count += 1
        state.sum += sample.value
        state.lastValue = sample.value
        state.lastTime = sample.time
        states[sample.series] = state
        return closed
    }

    /// Closes every interval that ended `grace` before now on the samples' clock, at `monotonic` nanoseconds (all of
    /// them when `everything`, at stop).
    package mutating func close(at monotonic: Int64, everything: Bool = false) -> [Closed] {
        guard let latest else { return [] }
        let now = UnixNanos.sum(latest.time, max(0, monotonic - latest.seenAt))
        var closed: [Closed] = []
        for (series, state) in states {
            guard let open = state.open, everything || open.start + interval + grace <= now else { continue }
            closed.append(close(open, series: series, state: state))
            states[series]?.open = nil
        }
        return closed.sorted { ($0.time, $0.point.series.key) < ($1.time, $1.point.series.key) }
    }

    /// Forgets series with nothing open and no sample in the last `age` nanoseconds of the samples' clock.
    package mutating func forget(olderThan age: Int64) {
        guard let latest else { return }
        states = states.filter { $0.value.open != nil || $0.value.lastTime >= latest.time - age }
    }

    private func close(_ bucket: Bucket, series: Series, state: SeriesState) -> Closed {
        let end = bucket.start + interval
        if series.kind == .counter, let last = bucket.last {
            return Closed(point: .sum(last, start: state.since), values: [last.value], time: last.time)
        }
        let summary = IntervalSummary(series: series, start: state.since, time: end, count: state.count,
                                      sum: state.sum, min: bucket.min, max: bucket.max)
        return Closed(point: .summary(summary), values: [bucket.min, bucket.max, bucket.sum / Double(bucket.count)],
                      time: end)
    }

    private func floorMultiple(_ time: Int64) -> Int64 {
        let remainder = time % interval
        return remainder >= 0 ? time - remainder : time - remainder - interval
    }
}
