import OutpostCore

/// Fires `outpost.threshold.crossed` once when a series leaves its allowed range and `outpost.threshold.cleared`
/// once when it comes back (past the hysteresis), e.g. battery below 20 %, RSSI below -80 dBm.
package struct ThresholdRule: Sendable {
    package let configuration: ThresholdRuleConfiguration
    private var crossed: Crossing?

    private enum Crossing: String {
        case below, above
    }

    package init(configuration: ThresholdRuleConfiguration) {
        self.configuration = configuration
    }

    package mutating func process(_ sample: Sample) -> [Event] {
        guard sample.value.isFinite else { return [] }
        let value = sample.value
        switch crossed {
        case nil:
            if let below = configuration.below, value < below {
                crossed = .below
                return [event(.thresholdCrossed, sample, crossing: .below, limit: below)]
            }
            if let above = configuration.above, value > above {
                crossed = .above
                return [event(.thresholdCrossed, sample, crossing: .above, limit: above)]
            }
        case .below?:
            if let below = configuration.below, value >= below + configuration.hysteresis {
                crossed = nil
                return [event(.thresholdCleared, sample, crossing: .below, limit: below)]
            }
        case .above?:
            if let above = configuration.above, value <= above - configuration.hysteresis {
                crossed = nil
                return [event(.thresholdCleared, sample, crossing: .above, limit: above)]
            }
        }
        return []
    }

    private func event(_ name: EventName, _ sample: Sample, crossing: Crossing, limit: Double) -> Event {
        let series = sample.series
        var attributes = Attributes()
        attributes["outpost.series"] = .string(series.name)
        attributes["outpost.value"] = .double(sample.value)
        attributes["outpost.threshold"] = .double(limit)
        attributes["outpost.threshold.direction"] = .string(crossing.rawValue)
        attributes["outpost.unit"] = .string(series.unit)
        attributes.set("outpost.rule", ifPresent: configuration.name)
        let crossedNow = name == .thresholdCrossed
        let message = crossedNow
            ? "\(series.name) = \(formatted(sample.value))\(unitSuffix(series)) is \(crossing.rawValue) "
                + "\(formatted(limit))\(unitSuffix(series))"
            : "\(series.name) = \(formatted(sample.value))\(unitSuffix(series)) is back within its limit "
                + "\(formatted(limit))\(unitSuffix(series))"
        return Event(name: name, severity: crossedNow ? configuration.severity : .info, time: sample.time,
                     series: series, message: message, attributes: attributes)
    }
}
