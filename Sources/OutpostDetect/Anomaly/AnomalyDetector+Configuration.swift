import OutpostCore

/// Settings of the anomaly detector and its rules; `[detect]` in the config, overridable by glob and per sensor.
package struct AnomalyConfiguration: Sendable, Equatable {
    package enum Direction: String, Sendable, CaseIterable {
        case both, high, low
    }

    /// When the time-of-day profile judges a series instead of its moving baseline.
    package enum Seasonality: String, Sendable, CaseIterable {
        /// Once the profile explains the series clearly better than the baseline does (a daily cycle shows).
        case auto
        /// Never: the moving baseline judges every sample.
        case off
        /// Always, once `seasonal_learning` has passed.
        case daily
    }

    /// One knob over `sigma`, `confirm_samples` and `likelihood_threshold`, for operators who do not tune each.
    package enum Sensitivity: String, Sendable, CaseIterable {
        case low, normal, high

        var sigma: Double {
            switch self {
            case .low: 4
            case .normal: 3
            case .high: 2.5
            }
        }

        var confirmSamples: Int {
            switch self {
            case .low: 4
            case .normal: 3
            case .high: 2
            }
        }

        var likelihoodThreshold: Double {
            switch self {
            case .low: 1e-7
            case .normal: 1e-6
            case .high: 1e-5
            }
        }
    }

    /// `enabled`, default `true`: run the anomaly detector on matching series.
    package var enabled = true
    /// `rules`, default all of `DetectionRules.names`: the rules that may start an episode.
    package var rules = DetectionRules.names
    /// `method`, default `"ewma"`: `ewma` (exponentially weighted) or `window` (sliding window).
    package var method = BaselineStatistics.Method.ewma
    /// `window`, default `60`: baseline span in samples (window length, or EWMA span with alpha = 2/(window+1)).
    package var window = 60
    /// `warmup`, default `30`: samples learned before the first alert can be raised.
    package var warmup = 30
    /// `sigma`, default `3.0`: |z| above this makes a sample an excursion, which the rules then judge.
    package var sigma = 3.0
    /// `confirm_samples`, default `3`: the fewest excursions among the last `recent_samples` that the likelihood
    /// rule judges as a run.
    package var confirmSamples = 3
    /// `range_horizon`, default `"7d"`: how far back a value must be unmatched to be a record (a new high or low);
    /// `"0s"` drops the record rule's range.
    package var rangeHorizon: Duration = .seconds(7 * 86400)
    /// `likelihood_threshold`, default `1e-6`: a sample starts an episode when an excursion this large is rarer
    /// than this for the series (one in a million samples); a run of excursions when rarer than a thousandth of it.
    package var likelihoodThreshold = 1e-6
    /// `recent_samples`, default `10`: how many of the newest samples the likelihood rule counts excursions in.
    package var recentSamples = 10
    /// `seasonality`, default `"auto"`: `auto`, `off` or `daily` (see `Seasonality`).
    package var seasonality = Seasonality.auto
    /// `seasonal_learning`, default `"2d"`: how long the time-of-day profile learns before it may judge.
    package var seasonalLearning: Duration = .seconds(2 * 86400)
    /// `drift_sigma`, default `5.0`: the drift rule raises when the short baseline has moved this many long-run
    /// deviations from the slow one, and 1.5 times further than in any earlier block of the range horizon.
    package var driftSigma = 5.0
    /// `drift_after`, default `"3d"`: how much history the drift rule needs before it judges.
    package var driftAfter: Duration = .seconds(3 * 86400)
    /// `resolve_sigma`, default `2.0`: |z| must stay at or below this for `quiet_period` to resolve.
    package var resolveSigma = 2.0
    /// `quiet_period`, default `"30s"`: how long a series must stay calm before its episode resolves.
    package var quietPeriod: Duration = .seconds(30)
    /// `quiet_samples`, default `10`: the episode also needs this many calm samples in a row to resolve, so one
    /// excursion is one episode at any sample interval (100 ms or 15 min).
    package var quietSamples = 10
    /// `max_episodes_per_hour`, default `4`: a series raises at most this many episodes in any hour; further ones
    /// are counted (in status and the next resolved event) instead of sent. `0` means no limit.
    package var maxEpisodesPerHour = 4
    /// `max_episodes_per_day`, default `12`: the same over any 24 hours. `0` means no limit.
    package var maxEpisodesPerDay = 12
    /// `recurrence_tolerance`, default `0.1`: an episode that keeps a rhythm (the gaps between the last four
    /// episodes of one direction and this one all within this fraction of each other) is a recurring condition,
    /// counted instead of sent. `0` turns it off.
    package var recurrenceTolerance = 0.1
    /// `stuck_samples`, default `10`: a run of identical values this long, and more than twice the longest run the
    /// series showed in normal data, raises a stuck-sensor episode (after 10 windows of learning). `0` turns it off.
    package var stuckSamples = 10
    /// `min_stddev`, default `0.0`: floor on the standard deviation, in the series' unit (its resolution), so a
    /// flat sensor does not alert on its last digit.
    package var minStddev = 0.0
    /// `direction`, default `"both"`: `both`, `high` (only rises alert) or `low`.
    package var direction = Direction.both
    /// `level_shift_after`, default `"10m"`: an excursion lasting this long is accepted as the new normal;
    /// `"0s"` never accepts one.
    package var levelShiftAfter: Duration = .seconds(600)

    package init() {}

    /// Keys in a `[detect]`-like table that belong to the anomaly detector.
    package static let keys: Set<String> = [
        "enabled", "rules", "method", "window", "warmup", "sigma", "resolve_sigma", "quiet_period", "min_stddev",
        "direction", "level_shift_after", "sensitivity", "confirm_samples", "range_horizon", "quiet_samples",
        "max_episodes_per_hour", "max_episodes_per_day", "recurrence_tolerance", "stuck_samples",
        "likelihood_threshold", "recent_samples", "seasonality", "seasonal_learning", "drift_sigma", "drift_after",
    ]

    /// Whether the rule named `name` may start episodes.
    package func uses(_ name: String) -> Bool { rules.contains(name) }

    /// Overrides present in `reader`, applied on top of `self`; absent keys keep their current values.
    package func overridden(by reader: ConfigReader) -> AnomalyConfiguration {
        var result = self
        if let name = reader.node("sensitivity").map({ _ in reader.choice(
            "sensitivity", Sensitivity.allCases.map(\.rawValue), default: Sensitivity.normal.rawValue) }),
            let sensitivity = Sensitivity(rawValue: name)
        {
            result.sigma = sensitivity.sigma
            result.confirmSamples = sensitivity.confirmSamples
            result.likelihoodThreshold = sensitivity.likelihoodThreshold
        }
        result.enabled = reader.bool("enabled", default: enabled)
        result.rules = Self.readRules(reader) ?? rules
        let methodName = reader.choice("method", BaselineStatistics.Method.allCases.map(\.rawValue),
                                       default: method.rawValue)
        result.method = BaselineStatistics.Method(rawValue: methodName) ?? method
        result.window = reader.int("window", in: 2...1_000_000, default: window)
        result.warmup = reader.int("warmup", in: 2...1_000_000, default: warmup)
        result.sigma = reader.double("sigma", default: result.sigma)
        result.confirmSamples = reader.int("confirm_samples", in: 1...64, default: result.confirmSamples)
        result.rangeHorizon = reader.duration("range_horizon", default: rangeHorizon)
        result.likelihoodThreshold = reader.double("likelihood_threshold", in: 1e-300...0.5,
                                                   default: result.likelihoodThreshold)
        result.recentSamples = reader.int("recent_samples", in: 1...64, default: recentSamples)
        let seasonalityName = reader.choice("seasonality", Seasonality.allCases.map(\.rawValue),
                                            default: seasonality.rawValue)
        result.seasonality = Seasonality(rawValue: seasonalityName) ?? seasonality
        result.seasonalLearning = reader.duration("seasonal_learning", default: seasonalLearning)
        result.driftSigma = reader.double("drift_sigma", default: driftSigma)
        result.driftAfter = reader.duration("drift_after", default: driftAfter)
        result.quietSamples = reader.int("quiet_samples", in: 1...1_000_000, default: quietSamples)
        result.maxEpisodesPerHour = reader.int("max_episodes_per_hour", in: 0...1_000_000,
                                               default: maxEpisodesPerHour)
        result.maxEpisodesPerDay = reader.int("max_episodes_per_day", in: 0...1_000_000, default: maxEpisodesPerDay)
        result.recurrenceTolerance = reader.double("recurrence_tolerance", in: 0...1, default: recurrenceTolerance)
        result.stuckSamples = reader.int("stuck_samples", in: 0...1_000_000, default: stuckSamples)
        result.resolveSigma = reader.double("resolve_sigma", default: resolveSigma)
        result.quietPeriod = reader.duration("quiet_period", default: quietPeriod)
        result.minStddev = reader.double("min_stddev", default: minStddev)
        let directionName = reader.choice("direction", Direction.allCases.map(\.rawValue), default: direction.rawValue)
        result.direction = Direction(rawValue: directionName) ?? direction
        result.levelShiftAfter = reader.duration("level_shift_after", default: levelShiftAfter)
        result.validate(reader)
        return result
    }

    private static func readRules(_ reader: ConfigReader) -> [String]? {
        guard let names = reader.strings("rules") else { return nil }
        let unknown = names.filter { !DetectionRules.names.contains($0) }
        guard unknown.isEmpty else {
            reader.invalid("rules", "unknown rule \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")); the rules "
                + "are \(DetectionRules.names.map { "\"\($0)\"" }.joined(separator: ", "))")
            return nil
        }
        return names
    }

    /// Sample counts are range-checked where they are read; these are the rules between keys and for the rest.
    private func validate(_ reader: ConfigReader) {
        if !(sigma > 0) { reader.invalid("sigma", "must be positive, got \(sigma)") }
        if sigma > 0, !(resolveSigma >= 0 && resolveSigma <= sigma) {
            reader.invalid("resolve_sigma", "must be between 0 and sigma (\(sigma)), got \(resolveSigma)")
        }
        if confirmSamples > recentSamples {
            reader.invalid("confirm_samples",
                           "must not exceed recent_samples (\(recentSamples)), got \(confirmSamples)")
        }
        if !(driftSigma > 0) { reader.invalid("drift_sigma", "must be positive, got \(driftSigma)") }
        if rangeHorizon < .zero { reader.invalid("range_horizon", "must not be negative") }
        if seasonalLearning < .seconds(86400) {
            reader.invalid("seasonal_learning", "must be at least 1d: a profile needs a day of every time slot")
        }
        if driftAfter < .zero { reader.invalid("drift_after", "must not be negative") }
        if minStddev < 0 { reader.invalid("min_stddev", "must not be negative, got \(minStddev)") }
        if quietPeriod < .zero { reader.invalid("quiet_period", "must not be negative") }
        if levelShiftAfter < .zero { reader.invalid("level_shift_after", "must not be negative") }
    }
}
