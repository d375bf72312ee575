import OutpostCore

/// Detects samples more than `sigma` standard deviations from a series' learned baseline, one episode at a time.
///
/// An episode starts with one `outpost.anomaly.raised` and ends with one `outpost.anomaly.resolved` once |z| has
/// stayed at or below `resolve_sigma` for `quiet_period` and `quiet_samples`, so an excursion of many samples yields
/// two events, not one per sample, at any sample interval. It raises on the first sample that is beyond `sigma` and
/// a new high or low for `range_horizon`, otherwise once `confirm_samples` samples in a row are beyond `sigma`:
/// lone heavy-tailed noise inside the usual range stays quiet, spikes still raise at once. The deviation is the
/// larger of the short baseline's and a long-horizon one (20 windows), so a flat run cannot collapse it. Samples
/// beyond `sigma` stay out of the baseline (an anomaly must not teach the detector that it is normal), unless the
/// excursion lasts `level_shift_after` and `warmup` samples, when the recent anomalous values become the new
/// baseline; when the two levels' bands do not touch, both are remembered (up to 4), and `confirm_samples` in a row
/// back inside a remembered level's band move the baseline there without an episode (regimes such as a pump going on
/// and off). A run of identical values past `stuck_samples` and twice the longest run seen is a stuck-sensor
/// episode. At most `max_episodes_per_hour` episodes are sent per series; the rest are counted. Time is the
/// samples' own time, so a replay gives the same events as the live run did.
package struct SigmaDetector: Sendable {
    package let configuration: SigmaConfiguration
    private var baseline: BaselineStatistics
    /// Exponentially weighted mean square of the residuals (value minus baseline mean) over 20 windows.
    private var longVariance = 0.0
    private var range: RangeHistory
    /// The smallest change between consecutive samples seen so far: the series' resolution, learned.
    private var resolution = Double.infinity
    private var previousValue: Double?
    /// Identical values in a row so far, and the longest such run seen.
    private var run = 0
    private var longestRun = 1
    private var episode: Episode?
    /// Samples beyond `sigma` in a row, before they confirm an episode, and the most extreme of them.
    private var pending = 0
    /// Levels the series settled at before (each accepted level shift, and the level it left), newest last.
    private var knownLevels: [KnownLevel] = []
    /// Samples in a row back at one known level, and which.
    private var returning = (level: -1, samples: 0)
    private var pendingPeak: (z: Double, value: Double) = (0, 0)
    /// Raise times within the last hour, oldest first, for the episode budget.
    private var recentRaises: [Int64] = []
    /// Episodes kept quiet by the budget: since the last resolved event sent, and in total.
    private var suppressedSinceReport = 0
    package private(set) var suppressedEpisodes = 0

    /// A level the series has held: a return to it is a known regime (a pump going on and off), not an anomaly.
    private struct KnownLevel {
        var mean: Double
        var deviation: Double
        static let limit = 4
    }

    private struct Episode {
        let start: Int64
        var lastOutside: Int64
        var calmSamples = 0
        var peakZ: Double
        var peakValue: Double
        var samples = 0
        /// Over the budget: the episode runs its course without events.
        var suppressed = false
        /// Raised by the stuck rule: ends when the value changes.
        var stuck = false
        /// The newest excursion values, the candidate baseline if the level shift is accepted.
        var recent: [Double] = []
    }

    /// Mean and standard deviation as the detector sees them (the latter floored by `min_stddev`).
    package struct Estimate: Sendable, Equatable {
        package let mean: Double
        package let standardDeviation: Double
        package let samples: Int
    }

    package init(configuration: SigmaConfiguration) {
        self.configuration = configuration
        self.baseline = BaselineStatistics(method: configuration.method, span: configuration.window)
        self.range = RangeHistory(horizon: UnixNanos.from(configuration.rangeHorizon))
    }

    package var estimate: Estimate {
        Estimate(mean: baseline.mean, standardDeviation: flooredDeviation, samples: baseline.count)
    }

    package var isInEpisode: Bool { episode != nil }

    /// Whether the current episode is one the budget keeps quiet.
    package var isSuppressed: Bool { episode?.suppressed ?? false }

    /// Feeds one sample; returns the events it causes (none for almost every sample).
    package mutating func process(_ sample: Sample) -> [Event] {
        guard sample.value.isFinite else { return [] }
        defer {
            range.add(sample.value, time: sample.time)
            noteStep(to: sample.value)
        }
        guard baseline.count >= configuration.warmup else {
            learn(sample.value)
            return []
        }
        let z = zScore(sample.value)
        if var current = episode {
            return continueEpisode(&current, sample: sample, z: z)
        }
        guard exceeds(z, configuration.sigma) else {
            pending = 0
            returning = (-1, 0)
            if isStuck(sample.value) { return startEpisode(sample, z: z, stuck: true) }
            learn(sample.value)
            return []
        }
        if let level = knownLevel(near: sample.value) {
            returnToKnownLevel(level)
            return []
        }
        returning = (-1, 0)
        if pending == 0 || abs(z) > abs(pendingPeak.z) { pendingPeak = (z, sample.value) }
        pending += 1
        // A young range makes every other sample a record: the rule waits for a window of history.
        let newExtreme = baseline.count >= configuration.window
            && range.isOutside(sample.value, margin: flooredDeviation, high: z > 0)
        let clearSpike = abs(z) > 2 * configuration.sigma
        guard newExtreme || clearSpike || pending >= configuration.confirmSamples else { return [] }
        return startEpisode(sample, z: z)
    }

    private func knownLevel(near value: Double) -> Int? {
        knownLevels.indices.last { index in
            let level = knownLevels[index]
            return abs(value - level.mean) <= configuration.sigma * max(level.deviation, floorWithoutBaseline)
        }
    }

    /// After `confirm_samples` samples in a row at a known level, the baseline moves there without an episode.
    private mutating func returnToKnownLevel(_ index: Int) {
        returning = returning.level == index ? (index, returning.samples + 1) : (index, 1)
        pending = 0
        guard returning.samples >= configuration.confirmSamples else { return }
        let target = knownLevels[index]
        remember(KnownLevel(mean: baseline.mean, deviation: flooredDeviation))
        seedBaseline(mean: target.mean, deviation: target.deviation)
        returning = (-1, 0)
    }

    /// Records `level`, replacing a remembered one it matches, forgetting the oldest beyond the limit.
    private mutating func remember(_ level: KnownLevel) {
        if let same = knownLevel(near: level.mean) { knownLevels.remove(at: same) }
        knownLevels.append(level)
        if knownLevels.count > KnownLevel.limit { knownLevels.removeFirst() }
    }

    /// Starts the baseline over at `mean` with `deviation`, as if it had learned `warmup` samples there.
    private mutating func seedBaseline(mean: Double, deviation: Double) {
        let count = max(2, configuration.warmup)
        let spread = deviation * (Double(count - 1) / Double(count)).squareRoot()
        baseline.reset(to: (0..<count).map { mean + ($0 % 2 == 0 ? -spread : spread) })
    }

    /// Whether `value` extends a run of identical values past `stuck_samples` and twice the longest run of normal
    /// data seen (a quantised sensor that often sits still must sit still far longer than usual).
    private mutating func isStuck(_ value: Double) -> Bool {
        let minimum = configuration.stuckSamples
        guard minimum > 0, value == previousValue, baseline.count >= 10 * configuration.window else { return false }
        let length = run + 1
        return length >= minimum && length > 2 * longestRun
    }

    private mutating func startEpisode(_ sample: Sample, z: Double, stuck: Bool = false) -> [Event] {
        let peak = abs(z) >= abs(pendingPeak.z) || stuck ? (z: z, value: sample.value) : pendingPeak
        let confirmed = stuck ? run + 1 : pending
        pending = 0
        var current = Episode(start: sample.time, lastOutside: sample.time, peakZ: peak.z, peakValue: peak.value,
                              samples: confirmed, stuck: stuck, recent: [sample.value])
        if overBudget(at: sample.time) {
            current.suppressed = true
            suppressedEpisodes += 1
            suppressedSinceReport += 1
            episode = current
            return []
        }
        recentRaises.append(sample.time)
        episode = current
        return [stuck ? stuckEvent(sample, z: z) : raisedEvent(sample, z: z)]
    }

    /// Whether another episode at `time` would exceed `max_episodes_per_hour`.
    private mutating func overBudget(at time: Int64) -> Bool {
        let limit = configuration.maxEpisodesPerHour
        guard limit > 0 else { return false }
        let hour: Int64 = 3600 * 1_000_000_000
        recentRaises.removeAll { time - $0 >= hour }
        return recentRaises.count >= limit
    }

    private mutating func noteStep(to value: Double) {
        if let previousValue, value != previousValue { resolution = min(resolution, abs(value - previousValue)) }
        if value == previousValue {
            run += 1
        } else {
            // A stuck run that ended is learned too: it was reported once, and a series whose normal includes such
            // runs (a pump that is off for hours) must not report every one of them.
            longestRun = max(longestRun, run)
            run = 1
        }
        previousValue = value
    }

    /// Adds a normal sample to the short baseline and the long-horizon deviation.
    private mutating func learn(_ value: Double) {
        // A repeated value says nothing new about the spread: flat runs must not shrink the long-horizon deviation.
        if baseline.count >= configuration.warmup, value != previousValue {
            let residual = value - baseline.mean
            let alpha = 2.0 / Double(20 * configuration.window + 1)
            longVariance += alpha * (residual * residual - longVariance)
        }
        baseline.add(value)
        if baseline.count == configuration.warmup { longVariance = baseline.variance }
    }

    private mutating func continueEpisode(_ current: inout Episode, sample: Sample, z: Double) -> [Event] {
        current.samples += 1
        if current.stuck {
            guard sample.value == previousValue else {
                learn(sample.value)
                return endEpisode(current, sample: sample, reason: "value_changed")
            }
            episode = current
            return []
        }
        if exceeds(z, configuration.resolveSigma) {
            current.lastOutside = sample.time
            current.calmSamples = 0
        } else {
            current.calmSamples += 1
        }
        // Only samples beyond `sigma` stay out of the baseline. Keeping out everything beyond the resolve level
        // would freeze the baseline behind any slow trend, and the episode would never end.
        if exceeds(z, configuration.sigma) {
            if abs(z) > abs(current.peakZ) {
                current.peakZ = z
                current.peakValue = sample.value
            }
            current.recent.append(sample.value)
            if current.recent.count > configuration.window { current.recent.removeFirst() }
        } else {
            learn(sample.value)
        }
        let levelShift = configuration.levelShiftAfter
        if levelShift > .zero, sample.time - current.start >= UnixNanos.from(levelShift),
            exceeds(z, configuration.sigma),
            current.recent.count >= max(2, min(configuration.warmup, configuration.window))
        {
            let left = KnownLevel(mean: baseline.mean, deviation: flooredDeviation)
            baseline.reset(to: current.recent)
            let reached = KnownLevel(mean: baseline.mean,
                                     deviation: max(baseline.standardDeviation, floorWithoutBaseline))
            // Only distinct regimes, whose bands do not touch, are remembered: a slow cycle's accepted shifts are not.
            if abs(reached.mean - left.mean) > configuration.sigma * (reached.deviation + left.deviation) {
                remember(left)
                remember(reached)
            }
            longVariance = max(longVariance, baseline.variance)
            return endEpisode(current, sample: sample, reason: "level_shift_accepted")
        }
        if sample.time - current.lastOutside >= UnixNanos.from(configuration.quietPeriod),
            current.calmSamples >= configuration.quietSamples
        {
            return endEpisode(current, sample: sample, reason: "returned_to_baseline")
        }
        episode = current
        return []
    }

    private mutating func endEpisode(_ current: Episode, sample: Sample, reason: String) -> [Event] {
        episode = nil
        guard !current.suppressed else { return [] }
        defer { suppressedSinceReport = 0 }
        return [resolvedEvent(sample, episode: current, reason: reason)]
    }

    private var flooredDeviation: Double {
        max(baseline.standardDeviation, longVariance.squareRoot(), floorWithoutBaseline)
    }

    /// The floors that do not depend on the current baseline: the learned resolution and `min_stddev`.
    private var floorWithoutBaseline: Double {
        max(resolution.isFinite ? resolution : 0, configuration.minStddev)
    }

    private func zScore(_ value: Double) -> Double {
        let deviation = flooredDeviation
        let difference = value - baseline.mean
        guard deviation > 0 else { return difference == 0 ? 0 : (difference > 0 ? .infinity : -.infinity) }
        return difference / deviation
    }

    /// Whether `z` lies beyond `limit` in the configured direction.
    private func exceeds(_ z: Double, _ limit: Double) -> Bool {
        switch configuration.direction {
        case .both: abs(z) > limit
        case .high: z > limit
        case .low: z < -limit
        }
    }

    private func stuckEvent(_ sample: Sample, z: Double) -> Event {
        let series = sample.series
        var attributes = explanation(series: series, value: sample.value, z: z)
        attributes["outpost.anomaly.direction"] = .string("stuck")
        attributes["outpost.anomaly.run"] = .int(Int64(run + 1))
        let message = "\(series.name) has read \(formatted(sample.value))\(unitSuffix(series)) for \(run + 1) samples "
            + "in a row (the longest run before was \(longestRun))"
        return Event(name: .anomalyRaised, severity: .warn, time: sample.time, series: series, message: message,
                     attributes: attributes)
    }

    private func raisedEvent(_ sample: Sample, z: Double) -> Event {
        let series = sample.series
        var attributes = explanation(series: series, value: sample.value, z: z)
        attributes["outpost.anomaly.direction"] = .string(z > 0 ? "high" : "low")
        let message = "\(series.name) = \(formatted(sample.value))\(unitSuffix(series)) is \(formatted(abs(z))) sigma "
            + "\(z > 0 ? "above" : "below") its mean \(formatted(baseline.mean))"
        return Event(name: .anomalyRaised, severity: .warn, time: sample.time, series: series, message: message,
                     attributes: attributes)
    }

    private func resolvedEvent(_ sample: Sample, episode: Episode, reason: String) -> Event {
        let series = sample.series
        var attributes = explanation(series: series, value: sample.value, z: zScore(sample.value))
        attributes["outpost.anomaly.reason"] = .string(reason)
        attributes["outpost.anomaly.started"] = .int(episode.start)
        let duration = UnixNanos.seconds(sample.time - episode.start)
        attributes["outpost.anomaly.duration_s"] = .double(roundedEstimate(duration))
        attributes["outpost.anomaly.peak_value"] = .double(episode.peakValue)
        attributes["outpost.anomaly.peak_z"] = .double(roundedEstimate(episode.peakZ))
        attributes["outpost.anomaly.samples"] = .int(Int64(episode.samples))
        attributes["outpost.anomaly.suppressed"] = .int(Int64(suppressedSinceReport))
        let verb = switch reason {
        case "level_shift_accepted": "accepted a new level"
        case "value_changed": "changed value again"
        default: "returned to normal"
        }
        let message = "\(series.name) \(verb) after \(formatted(duration))s "
            + "(peak \(formatted(episode.peakValue))\(unitSuffix(series)), \(formatted(abs(episode.peakZ))) sigma)"
        return Event(name: .anomalyResolved, severity: .info, time: sample.time, series: series, message: message,
                     attributes: attributes)
    }

    private func explanation(series: Series, value: Double, z: Double) -> Attributes {
        var attributes = Attributes()
        attributes["outpost.series"] = .string(series.name)
        attributes["outpost.value"] = .double(value)
        attributes["outpost.mean"] = .double(roundedEstimate(baseline.mean))
        attributes["outpost.stddev"] = .double(roundedEstimate(flooredDeviation))
        attributes["outpost.z"] = .double(roundedEstimate(z))
        attributes["outpost.sigma"] = .double(configuration.sigma)
        attributes["outpost.unit"] = .string(series.unit)
        attributes["outpost.detector"] = .string("sigma.\(configuration.method.rawValue)")
        return attributes
    }
}

/// Short numbers for event messages: three decimals at most, no exponent for everyday magnitudes.
func formatted(_ value: Double) -> String {
    guard value.isFinite else { return value.description }
    let rounded = (value * 1000).rounded() / 1000
    if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int64(rounded)) }
    return String(rounded)
}

/// A statistic to six significant digits (21.054874999999996 becomes 21.0549). The baseline's mean, deviation
/// and z are estimates; their last digits carry no information, yet cost bytes in every alert and event sent. The
/// sample's own value is never rounded.
func roundedEstimate(_ value: Double) -> Double {
    guard value.isFinite, value != 0 else { return value }
    var scale = 1.0, digits = 0
    let magnitude = abs(value)
    // Exact powers of ten (up to 1e22) keep the result the double nearest the decimal, which prints short.
    while magnitude * scale < 1e5, digits < 22 { scale *= 10; digits += 1 }
    while magnitude / scale >= 1e6, digits > -22 { scale *= 10; digits -= 1 }
    return digits >= 0 ? (value * scale).rounded() / scale : (value / scale).rounded() * scale
}

func unitSuffix(_ series: Series) -> String {
    switch series.unit {
    case "", "1": ""
    case "%": "%"
    default: " " + series.unit
    }
}
