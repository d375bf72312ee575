import OutpostCore

/// When a silent series counts as stale.
package enum StaleAfter: Sendable, Equatable {
    /// After this many of its input's intervals (the input's `interval`).
    case intervals(Int)
    /// After a fixed duration, whatever the interval.
    case duration(Duration)
    case never

    /// The longest silence a limit can be: the longest duration a config may give, so that `intervals × count`
    /// (both bounded where they are read) always fits the Int64 nanoseconds that staleness counts in.
    static let longest = Duration.nanoseconds(Int64(ConfigQuantities.maximumDurationNanos))

    /// How long a series may stay silent: saturating at `longest`.
    package func limit(interval: Duration?) -> Duration? {
        switch self {
        case .intervals(let count): interval.map { min($0 * count, Self.longest) }
        case .duration(let duration): duration
        case .never: nil
        }
    }
}

/// Everything detection needs to know about one series, resolved from `[detect]`, overrides and the sensor.
package struct DetectionSettings: Sendable, Equatable {
    package var anomaly = AnomalyConfiguration()
    /// `stale_after`, default `3`: intervals (a whole number) or a duration (`"5m"`) without a sample before
    /// `outpost.device.stale`; `0` turns staleness off.
    package var staleAfter = StaleAfter.intervals(3)

    package init() {}

    package static let keys = AnomalyConfiguration.keys.union(["stale_after"])
}

/// A partial `DetectionSettings`: only the keys a table actually sets, applied over whatever came before.
package struct DetectionPatch: Sendable, Equatable {
    let values: DetectionSettings
    let keys: Set<String>

    /// Reads the detection keys present in `reader`, validating them; other keys are left for the caller.
    package static func read(_ reader: ConfigReader) -> DetectionPatch {
        var values = DetectionSettings()
        values.anomaly = values.anomaly.overridden(by: reader)
        values.staleAfter = readStaleAfter(reader) ?? values.staleAfter
        return DetectionPatch(values: values, keys: Set(reader.keys).intersection(DetectionSettings.keys))
    }

    package func applied(to base: DetectionSettings) -> DetectionSettings {
        var result = base
        for key in keys {
            switch key {
            case "enabled": result.anomaly.enabled = values.anomaly.enabled
            case "rules": result.anomaly.rules = values.anomaly.rules
            case "method": result.anomaly.method = values.anomaly.method
            case "window": result.anomaly.window = values.anomaly.window
            case "warmup": result.anomaly.warmup = values.anomaly.warmup
            case "sigma": result.anomaly.sigma = values.anomaly.sigma
            case "resolve_sigma": result.anomaly.resolveSigma = values.anomaly.resolveSigma
            case "quiet_period": result.anomaly.quietPeriod = values.anomaly.quietPeriod
            case "min_stddev": result.anomaly.minStddev = values.anomaly.minStddev
            case "direction": result.anomaly.direction = values.anomaly.direction
            case "level_shift_after": result.anomaly.levelShiftAfter = values.anomaly.levelShiftAfter
            case "sensitivity":
                // `values` holds the preset, or the table's own keys where it sets them too.
                result.anomaly.sigma = values.anomaly.sigma
                result.anomaly.confirmSamples = values.anomaly.confirmSamples
                result.anomaly.likelihoodThreshold = values.anomaly.likelihoodThreshold
            case "confirm_samples": result.anomaly.confirmSamples = values.anomaly.confirmSamples
            case "range_horizon": result.anomaly.rangeHorizon = values.anomaly.rangeHorizon
            case "likelihood_threshold": result.anomaly.likelihoodThreshold = values.anomaly.likelihoodThreshold
            case "recent_samples": result.anomaly.recentSamples = values.anomaly.recentSamples
            case "seasonality": result.anomaly.seasonality = values.anomaly.seasonality
            case "seasonal_learning": result.anomaly.seasonalLearning = values.anomaly.seasonalLearning
            case "drift_sigma": result.anomaly.driftSigma = values.anomaly.driftSigma
            case "drift_after": result.anomaly.driftAfter = values.anomaly.driftAfter
            case "quiet_samples": result.anomaly.quietSamples = values.anomaly.quietSamples
            case "max_episodes_per_hour": result.anomaly.maxEpisodesPerHour = values.anomaly.maxEpisodesPerHour
            case "max_episodes_per_day": result.anomaly.maxEpisodesPerDay = values.anomaly.maxEpisodesPerDay
            case "recurrence_tolerance": result.anomaly.recurrenceTolerance = values.anomaly.recurrenceTolerance
            case "stuck_samples": result.anomaly.stuckSamples = values.anomaly.stuckSamples
            case "stale_after": result.staleAfter = values.staleAfter
            default: break
            }
        }
        return result
    }

    /// A million intervals: beyond any sensible count, small enough that `interval × count` cannot overflow.
    static let maximumIntervals = 1_000_000

    static func readStaleAfter(_ reader: ConfigReader) -> StaleAfter? {
        guard let node = reader.node("stale_after") else { return nil }
        switch node.value {
        case .int(let count) where count == 0: return .never
        case .int(let count) where count > 0 && count <= maximumIntervals: return .intervals(count)
        case .int: reader.invalid("stale_after", "must be 0 (off) to \(maximumIntervals) intervals, or a duration")
        default:
            if let duration = reader.duration("stale_after") {
                return duration > .zero ? .duration(duration) : .never
            }
        }
        return nil
    }
}
