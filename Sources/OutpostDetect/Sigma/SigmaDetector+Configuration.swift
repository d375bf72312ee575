import OutpostCore

/// Settings of the 3-sigma detector; `[detect]` in the config, overridable by glob and per sensor.
package struct SigmaConfiguration: Sendable, Equatable {
    package enum Direction: String, Sendable, CaseIterable {
        case both, high, low
    }

    /// One knob over `sigma` and `confirm_samples`, for operators who do not want to tune both.
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
    }

    /// `enabled`, default `true`: run the sigma detector on matching series.
    package var enabled = true
    /// `method`, default `"ewma"`: `ewma` (exponentially weighted) or `window` (sliding window).
    package var method = BaselineStatistics.Method.ewma
    /// `window`, default `60`: baseline span in samples (window length, or EWMA span with alpha = 2/(window+1)).
    package var window = 60
    /// `warmup`, default `30`: samples learned before the first alert can be raised.
    package var warmup = 30
    /// `sigma`, default `3.0`: |z| above this raises an anomaly.
    package var sigma = 3.0
    /// `confirm_samples`, default `3`: an excursion within the horizon's range raises once this many samples in a
    /// row lie beyond `sigma`; a new high or low for `range_horizon` raises on its first sample.
    package var confirmSamples = 3
    /// `range_horizon`, default `"7d"`: how far back a value must be unmatched to count as a new high or low;
    /// `"0s"` drops the rule, so every excursion needs `confirm_samples`.
    package var rangeHorizon: Duration = .seconds(7 * 86400)
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

    /// Keys in a `[detect]`-like table that belong to the sigma detector.
    package static let keys: Set<String> = [
        "enabled", "method", "window", "warmup", "sigma", "resolve_sigma", "quiet_period", "min_stddev", "direction",
        "level_shift_after", "sensitivity", "confirm_samples", "range_horizon", "quiet_samples",
        "max_episodes_per_hour", "stuck_samples",
    ]

    /// Overrides present in `reader`, applied on top of `self`; absent keys keep their current values.
    package func overridden(by reader: ConfigReader) -> SigmaConfiguration {
        var result = self
        if let name = reader.node("sensitivity").map({ _ in reader.choice(
            "sensitivity", Sensitivity.allCases.map(\.rawValue), default: Sensitivity.normal.rawValue) }),
            let sensitivity = Sensitivity(rawValue: name)
        {
            result.sigma = sensitivity.sigma
            result.confirmSamples = sensitivity.confirmSamples
        }
        result.enabled = reader.bool("enabled", default: enabled)
        let methodName = reader.choice("method", BaselineStatistics.Method.allCases.map(\.rawValue), default: method.rawValue)
        result.method = BaselineStatistics.Method(rawValue: methodName) ?? method
        result.window = reader.int("window", in: 2...1_000_000, default: window)
        result.warmup = reader.int("warmup", in: 2...1_000_000, default: warmup)
        result.sigma = reader.double("sigma", default: result.sigma)
        result.confirmSamples = reader.int("confirm_samples", in: 1...10_000, default: result.confirmSamples)
        result.rangeHorizon = reader.duration("range_horizon", default: rangeHorizon)
        result.quietSamples = reader.int("quiet_samples", in: 1...1_000_000, default: quietSamples)
        result.maxEpisodesPerHour = reader.int("max_episodes_per_hour", in: 0...1_000_000,
                                               default: maxEpisodesPerHour)
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

    /// Sample counts are range-checked where they are read; these are the rules between keys and for the rest.
    private func validate(_ reader: ConfigReader) {
        if !(sigma > 0) { reader.invalid("sigma", "must be positive, got \(sigma)") }
        if sigma > 0, !(resolveSigma >= 0 && resolveSigma <= sigma) {
            reader.invalid("resolve_sigma", "must be between 0 and sigma (\(sigma)), got \(resolveSigma)")
        }
        if rangeHorizon < .zero { reader.invalid("range_horizon", "must not be negative") }
        if minStddev < 0 { reader.invalid("min_stddev", "must not be negative, got \(minStddev)") }
        if quietPeriod < .zero { reader.invalid("quiet_period", "must not be negative") }
        if levelShiftAfter < .zero { reader.invalid("level_shift_after", "must not be negative") }
    }
}
