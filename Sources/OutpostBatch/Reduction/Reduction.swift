import OutpostCore

/// What the batcher sends fewer of, and to whom: report-on-change rules per series, and the uplinks that aggregate
/// while their link is metered. `none` sends every sample to every uplink, as before either existed.
package struct Reduction: Sendable {
    /// The report-on-change rule of a series (nil: every sample goes).
    package var rule: @Sendable (Series) -> ChangeRule?
    /// Whether any series may have a rule at all (when not, the batcher skips the lookup).
    package var reportsOnChange: Bool
    /// Uplinks that aggregate (`aggregate`), by name: their interval.
    package var aggregating: [String: Duration]
    /// Every uplink that takes metrics, in configuration order.
    package var metricsUplinks: [String]
    /// Whether an uplink's link is metered now: its aggregation applies only then.
    package var isMetered: @Sendable (String) -> Bool

    package init(rule: @escaping @Sendable (Series) -> ChangeRule? = { _ in nil }, reportsOnChange: Bool = false,
                 aggregating: [String: Duration] = [:], metricsUplinks: [String] = [],
                 isMetered: @escaping @Sendable (String) -> Bool = { _ in true }) {
        self.rule = rule
        self.reportsOnChange = reportsOnChange
        self.aggregating = aggregating
        self.metricsUplinks = metricsUplinks
        self.isMetered = isMetered
    }

    package static let none = Reduction()

    /// The distinct aggregation intervals.
    var intervals: [Duration] { Array(Set(aggregating.values)).sorted() }

    /// The uplinks that get full-resolution metrics now: nil for all of them (no uplink aggregates now), empty for
    /// none.
    func fullResolutionUplinks() -> [String]? {
        guard !aggregating.isEmpty else { return nil }
        let full = metricsUplinks.filter { aggregating[$0] == nil || !isMetered($0) }
        return full.count == metricsUplinks.count ? nil : full
    }

    /// The uplinks that get `interval`'s aggregates now.
    func aggregateUplinks(_ interval: Duration) -> [String] {
        metricsUplinks.filter { aggregating[$0] == interval && isMetered($0) }
    }
}

/// One aggregation interval's state in the batcher: its aggregator, its report-on-change memory, and the points
/// waiting for the next metrics batch.
struct AggregateStream {
    var aggregator: IntervalAggregator
    var filter = ChangeFilter()
    var pending: [AggregatePoint] = []
    /// Monotonic nanoseconds when `pending` received its first point.
    var first: Int64?

    init(interval: Duration) {
        aggregator = IntervalAggregator(interval: interval)
    }

    /// Adds closed intervals that report-on-change lets through.
    mutating func take(_ closed: [IntervalAggregator.Closed], rule: (Series) -> ChangeRule?, at monotonic: Int64) {
        for interval in closed {
            if let rule = rule(interval.point.series),
                !filter.admit(interval.point.series, values: interval.values, time: interval.time, rule: rule)
            {
                continue
            }
            append(interval.point, at: monotonic)
        }
    }

    mutating func append(_ point: AggregatePoint, at monotonic: Int64) {
        if first == nil { first = monotonic }
        pending.append(point)
    }

    mutating func takePending() -> [AggregatePoint] {
        defer {
            pending = []
            first = nil
        }
        return pending
    }
}
