import OutpostCore

/// What detection knows about the input a sample came from.
package struct SampleSource: Sendable {
    /// The input's own `detect` table, applied over `[detect]` and overrides.
    package var patch: DetectionPatch? { patchBox?.patch }
    /// The input's polling interval, which `stale_after` counts in; nil (a replay) means no staleness.
    package let interval: Duration?
    /// Boxed: a source is kept per input in the configuration and in detection, and a patch is a few hundred bytes
    /// that most inputs do not have.
    private let patchBox: PatchBox?

    private final class PatchBox: Sendable {
        let patch: DetectionPatch
        init(_ patch: DetectionPatch) { self.patch = patch }
    }

    package init(patch: DetectionPatch? = nil, interval: Duration? = nil) {
        self.patchBox = patch.map(PatchBox.init)
        self.interval = interval
    }
}

/// Runs every detector and rule for every series; owned by one task, so it needs no locks.
///
/// Counters (network bytes) are detected on their per-second rate, since the raw total only ever grows.
package struct DetectionEngine: Sendable {
    package let configuration: DetectionConfiguration
    /// Each series' state, densely in first-seen order (nil where a series was forgotten), found through `slots`:
    /// a dictionary holding the states themselves would reserve room for a third more of them (~600 B each).
    private var states: [SeriesState?] = []
    private var slots: [Series: Int] = [:]
    private var forgotten = 0
    /// Episodes over `max_episodes_per_hour`, all series together: counted, not sent.
    package private(set) var suppressedEpisodes = 0

    package init(configuration: DetectionConfiguration) {
        self.configuration = configuration
    }

    /// Feeds one sample through the series' detectors and rules.
    package mutating func process(_ sample: Sample, from source: SampleSource = SampleSource()) -> [Event] {
        guard sample.value.isFinite else { return [] }
        // One hash of the series per sample, and the state mutated in place (no copy of its detector's arrays).
        let index = slots[sample.series] ?? addState(for: sample, source: source)
        let before = states[index]!.summary.suppressed
        let events = states[index]!.process(sample)
        suppressedEpisodes += states[index]!.summary.suppressed - before
        return events
    }

    private mutating func addState(for sample: Sample, source: SampleSource) -> Int {
        let state = makeState(for: sample, source: source)
        states.append(state)
        slots[sample.series] = states.count - 1
        return states.count - 1
    }

    /// Drops what the engine knows of `series` (an input forgot it): its baseline, episodes and staleness.
    package mutating func forget(_ series: Series) {
        guard let index = slots.removeValue(forKey: series) else { return }
        states[index] = nil
        forgotten += 1
        if forgotten > 64, forgotten * 2 > states.count { compact() }
    }

    /// Drops the forgotten slots, keeping first-seen order.
    private mutating func compact() {
        states = states.filter { $0 != nil }
        slots = Dictionary(uniqueKeysWithValues: states.enumerated().map { ($1!.summary.series, $0) })
        forgotten = 0
    }

    /// How many series the engine keeps state for.
    package var seriesCount: Int { slots.count }

    /// Checks every series for staleness at `now` (unix nanoseconds); call it about once per second.
    package mutating func checkStaleness(now: Int64) -> [Event] {
        var events: [Event] = []
        for index in states.indices where states[index]?.staleness != nil {
            events += states[index]!.staleness!.check(series: states[index]!.summary.series, now: now)
        }
        return events
    }

    /// Per-series totals, in first-seen order, for replay summaries and status.
    package var summaries: [SeriesSummary] {
        states.compactMap { $0?.summary }
    }

    /// Keep what each sample was judged against and its likelihood, for replay plots (costs a little per sample).
    package var tracing = false
    private var sharedConfigurations: [SharedAnomalyConfiguration] = []

    /// What the newest sample of `series` was judged against, and how likely the rules found it (with `tracing`).
    package func lastJudgement(for series: Series) -> (judgement: Judgement, likelihood: Double?)? {
        guard let detector = slots[series].flatMap({ states[$0]?.anomaly }), let judgement = detector.lastJudgement
        else { return nil }
        return (judgement, detector.lastLikelihood)
    }

    package func estimate(for series: Series) -> AnomalyDetector.Estimate? {
        slots[series].flatMap { states[$0]?.anomaly?.estimate }
    }

    private mutating func tracedDetector(_ configuration: AnomalyConfiguration) -> AnomalyDetector {
        var detector = AnomalyDetector(shared: shared(configuration))
        detector.tracing = tracing
        return detector
    }

    /// One shared copy per distinct configuration (most series share the defaults, or a few overrides).
    private mutating func shared(_ configuration: AnomalyConfiguration) -> SharedAnomalyConfiguration {
        if let known = sharedConfigurations.first(where: { $0.value == configuration }) { return known }
        let made = SharedAnomalyConfiguration(configuration)
        if sharedConfigurations.count < 64 { sharedConfigurations.append(made) }
        return made
    }

    private mutating func makeState(for sample: Sample, source: SampleSource) -> SeriesState {
        let settings = configuration.settings(for: sample.series, sensorPatch: source.patch)
        let thresholds = configuration.thresholds.filter { $0.series.matches(sample.series.name) }.map(ThresholdRule.init)
        // Only periodic inputs can go stale: a replay's timestamps are in the past by design.
        let staleLimit = source.interval.flatMap { settings.staleAfter.limit(interval: $0) }
        return SeriesState(
            series: sample.series,
            anomaly: settings.anomaly.enabled ? tracedDetector(settings.anomaly) : nil,
            thresholds: thresholds,
            staleness: staleLimit.map { StalenessRule(limit: $0, firstSeen: sample.time) }
        )
    }
}

/// Totals for one series over a run.
package struct SeriesSummary: Sendable {
    package let series: Series
    package var samples = 0
    package var minimum = Double.infinity
    package var maximum = -Double.infinity
    package var mean = 0.0
    package var anomalies = 0
    /// Episodes over `max_episodes_per_hour`, counted instead of sent.
    package var suppressed = 0
    package var thresholdCrossings = 0
    package var firstTime: Int64 = 0
    package var lastTime: Int64 = 0
}

private struct SeriesState: Sendable {
    var anomaly: AnomalyDetector?
    var thresholds: [ThresholdRule]
    var staleness: StalenessRule?
    var summary: SeriesSummary
    /// For counters: the previous raw sample and the derived rate series the detectors see.
    var previousCounter: Sample?
    let rateSeries: Series?

    init(series: Series, anomaly: AnomalyDetector?, thresholds: [ThresholdRule], staleness: StalenessRule?) {
        self.anomaly = anomaly
        self.thresholds = thresholds
        self.staleness = staleness
        self.summary = SeriesSummary(series: series)
        self.rateSeries = series.kind == .counter
            ? Series(name: series.name + ".rate", unit: series.unit + "/s", kind: .gauge, attributes: series.attributes)
            : nil
    }

    mutating func process(_ sample: Sample) -> [Event] {
        var events = staleness?.sampleArrived(sample) ?? []
        record(sample)
        guard let detected = detectable(sample) else { return events }
        if anomaly != nil {
            events += anomaly!.process(detected)
            summary.suppressed = anomaly!.suppressedEpisodes
        }
        for index in thresholds.indices {
            events += thresholds[index].process(detected)
        }
        summary.anomalies += events.count { $0.name == .anomalyRaised }
        summary.thresholdCrossings += events.count { $0.name == .thresholdCrossed }
        return events
    }

    private mutating func record(_ sample: Sample) {
        if summary.samples == 0 { summary.firstTime = sample.time }
        summary.samples += 1
        summary.minimum = min(summary.minimum, sample.value)
        summary.maximum = max(summary.maximum, sample.value)
        summary.mean += (sample.value - summary.mean) / Double(summary.samples)
        summary.lastTime = max(summary.lastTime, sample.time)
    }

    /// The sample as detectors see it: gauges as they are, counters as a per-second rate (nil for the first one,
    /// after a reset, or when time did not advance).
    private mutating func detectable(_ sample: Sample) -> Sample? {
        guard let rateSeries else { return sample }
        defer { previousCounter = sample }
        guard let previous = previousCounter, sample.time > previous.time, sample.value >= previous.value else {
            return nil
        }
        let rate = (sample.value - previous.value) / UnixNanos.seconds(sample.time - previous.time)
        return Sample(series: rateSeries, time: sample.time, value: rate)
    }
}
