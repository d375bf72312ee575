import OutpostCore

/// The events an anomaly detector sends, each explaining itself: the value, what it was judged against, the rule
/// that raised it and why.
enum AnomalyEvents {
    static func raised(_ judgement: Judgement, _ finding: Finding, configuration: AnomalyConfiguration) -> Event {
        let series = judgement.sample.series
        var attributes = explanation(judgement, z: judgement.z, mean: judgement.expectedMean,
                                     deviation: judgement.deviation, configuration: configuration)
        attributes["outpost.anomaly.direction"] = .string(
            finding.ending == .whenValueChanges ? "stuck" : judgement.z > 0 ? "high" : "low")
        attributes["outpost.anomaly.rule"] = .string(finding.kind)
        attributes["outpost.anomaly.baseline"] = .string(judgement.isSeasonal ? "time_of_day" : "moving")
        if let likelihood = finding.likelihood {
            attributes["outpost.anomaly.likelihood"] = .double(roundedEstimate(likelihood))
        }
        for (key, value) in finding.details.entries { attributes[key] = value }
        let message = finding.describesSeries
            ? "\(series.name) \(finding.explanation)"
            : "\(series.name) = \(formatted(judgement.value))\(unitSuffix(series)) is \(formatted(abs(judgement.z))) "
                + "sigma \(judgement.z > 0 ? "above" : "below") its \(judgement.isSeasonal ? "usual " : "")mean "
                + "\(formatted(judgement.expectedMean)): \(finding.explanation)"
        return Event(name: .anomalyRaised, severity: .warn, time: judgement.time, series: series, message: message,
                     attributes: attributes)
    }

    static func resolved(_ judgement: Judgement, episode: Episode, reason: String, z: Double,
                         baseline: AnomalyDetector.Estimate, suppressed: Int,
                         configuration: AnomalyConfiguration) -> Event {
        let series = judgement.sample.series
        var attributes = explanation(judgement, z: z, mean: baseline.mean, deviation: baseline.standardDeviation,
                                     configuration: configuration)
        attributes["outpost.anomaly.reason"] = .string(reason)
        attributes["outpost.anomaly.rule"] = .string(episode.kind)
        attributes["outpost.anomaly.started"] = .int(episode.start)
        let duration = UnixNanos.seconds(judgement.time - episode.start)
        attributes["outpost.anomaly.duration_s"] = .double(roundedEstimate(duration))
        attributes["outpost.anomaly.peak_value"] = .double(episode.peakValue)
        attributes["outpost.anomaly.peak_z"] = .double(roundedEstimate(episode.peakZ))
        attributes["outpost.anomaly.samples"] = .int(Int64(episode.samples))
        attributes["outpost.anomaly.suppressed"] = .int(Int64(suppressed))
        let verb = switch reason {
        case "level_shift_accepted": "accepted a new level"
        case "value_changed": "changed value again"
        default: "returned to normal"
        }
        let message = "\(series.name) \(verb) after \(formatted(duration))s "
            + "(peak \(formatted(episode.peakValue))\(unitSuffix(series)), \(formatted(abs(episode.peakZ))) sigma)"
        return Event(name: .anomalyResolved, severity: .info, time: judgement.time, series: series, message: message,
                     attributes: attributes)
    }

    private static func explanation(_ judgement: Judgement, z: Double, mean: Double, deviation: Double,
                                    configuration: AnomalyConfiguration) -> Attributes {
        let series = judgement.sample.series
        var attributes = Attributes()
        attributes["outpost.series"] = .string(series.name)
        attributes["outpost.value"] = .double(judgement.value)
        attributes["outpost.mean"] = .double(roundedEstimate(mean))
        attributes["outpost.stddev"] = .double(roundedEstimate(deviation))
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
