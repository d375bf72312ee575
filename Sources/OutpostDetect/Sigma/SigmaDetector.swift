import OutpostCore

/// Detects samples more than `sigma` standard deviations from a series' learned baseline, one episode at a time.
///
/// An episode starts with one `outpost.anomaly.raised` on the first anomalous sample and ends with one
/// `outpost.anomaly.resolved` once |z| has stayed at or below `resolve_sigma` for `quiet_period`, so an excursion
/// of many samples yields two events, not one per sample. Samples beyond `sigma` stay out of the baseline (an
/// anomaly must not teach the detector that it is normal), unless the excursion lasts `level_shift_after`, when
/// the recent anomalous values become the new baseline. Time is the samples' own time, so a
/// replay gives the same events as the live run did.
public struct SigmaDetector: Sendable {
    public let configuration: SigmaConfiguration
    private var baseline: BaselineStatistics
    private var episode: Episode?

    private struct Episode {
        let start: Int64
        var lastOutside: Int64
        var peakZ: Double
        var peakValue: Double
        var samples = 0
        /// The newest excursion values, the candidate baseline if the level shift is accepted.
        var recent: [Double] = []
    }

    /// Mean and standard deviation as the detector sees them (the latter floored by `min_stddev`).
    public struct Estimate: Sendable, Equatable {
        public let mean: Double
        public let standardDeviation: Double
        public let samples: Int
    }

    public init(configuration: SigmaConfiguration) {
        self.configuration = configuration
        self.baseline = BaselineStatistics(method: configuration.method, span: configuration.window)
    }

    public var estimate: Estimate {
        Estimate(mean: baseline.mean, standardDeviation: flooredDeviation, samples: baseline.count)
    }

    public var isInEpisode: Bool { episode != nil }

    /// Feeds one sample; returns the events it causes (none for almost every sample).
    public mutating func process(_ sample: Sample) -> [Event] {
        guard sample.value.isFinite else { return [] }
        guard baseline.count >= configuration.warmup else {
            baseline.add(sample.value)
            return []
        }
        let z = zScore(sample.value)
        if var current = episode {
            return continueEpisode(&current, sample: sample, z: z)
        }
        if exceeds(z, configuration.sigma) {
            episode = Episode(start: sample.time, lastOutside: sample.time, peakZ: z, peakValue: sample.value,
                              samples: 1, recent: [sample.value])
            return [raisedEvent(sample, z: z)]
        }
        baseline.add(sample.value)
        return []
    }

    private mutating func continueEpisode(_ current: inout Episode, sample: Sample, z: Double) -> [Event] {
        current.samples += 1
        if exceeds(z, configuration.resolveSigma) { current.lastOutside = sample.time }
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
            baseline.add(sample.value)
        }
        let levelShift = configuration.levelShiftAfter
        if levelShift > .zero, sample.time - current.start >= UnixNanos.from(levelShift),
            exceeds(z, configuration.sigma), current.recent.count >= 2
        {
            baseline.reset(to: current.recent)
            episode = nil
            return [resolvedEvent(sample, episode: current, reason: "level_shift_accepted")]
        }
        if sample.time - current.lastOutside >= UnixNanos.from(configuration.quietPeriod) {
            episode = nil
            return [resolvedEvent(sample, episode: current, reason: "returned_to_baseline")]
        }
        episode = current
        return []
    }

    private var flooredDeviation: Double {
        max(baseline.standardDeviation, configuration.minStddev)
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
        attributes["outpost.anomaly.duration_s"] = .double(UnixNanos.seconds(sample.time - episode.start))
        attributes["outpost.anomaly.peak_value"] = .double(episode.peakValue)
        attributes["outpost.anomaly.peak_z"] = .double(episode.peakZ)
        attributes["outpost.anomaly.samples"] = .int(Int64(episode.samples))
        let verb = reason == "level_shift_accepted" ? "accepted a new level" : "returned to normal"
        let message = "\(series.name) \(verb) after \(formatted(UnixNanos.seconds(sample.time - episode.start)))s "
            + "(peak \(formatted(episode.peakValue))\(unitSuffix(series)), \(formatted(abs(episode.peakZ))) sigma)"
        return Event(name: .anomalyResolved, severity: .info, time: sample.time, series: series, message: message,
                     attributes: attributes)
    }

    private func explanation(series: Series, value: Double, z: Double) -> Attributes {
        var attributes = Attributes()
        attributes["outpost.series"] = .string(series.name)
        attributes["outpost.value"] = .double(value)
        attributes["outpost.mean"] = .double(baseline.mean)
        attributes["outpost.stddev"] = .double(flooredDeviation)
        attributes["outpost.z"] = .double(z)
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

func unitSuffix(_ series: Series) -> String {
    switch series.unit {
    case "", "1": ""
    case "%": "%"
    default: " " + series.unit
    }
}
