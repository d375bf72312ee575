import OutpostCore

/// How far a value must move from the last one sent before it is sent again: `deadband = 0.1` (in the series' unit)
/// or `deadband = "2%"` (of the last value sent). Zero: any change at all.
package enum Deadband: Sendable, Equatable, CustomStringConvertible {
    case absolute(Double)
    case percent(Double)

    /// Whether `value` has moved far enough from `last` to be sent: by at least the band (a DS18B20's 0.0625 °C step
    /// with `deadband = 0.0625` is sent), or by anything when the band is zero.
    package func passed(from last: Double, to value: Double) -> Bool {
        let band = switch self {
        case .absolute(let band): band
        case .percent(let percent): abs(last) * percent / 100
        }
        return band > 0 ? abs(value - last) >= band : value != last
    }

    package var description: String {
        switch self {
        case .absolute(let band): "\(band)"
        case .percent(let percent): "\(percent)%"
        }
    }
}

/// Report-on-change for one series: a sample is sent when it moved past the deadband since the last one sent, or
/// when nothing was sent for `maxSilence` (the heartbeat, so a backend tells a flat series from a dead one).
package struct ChangeRule: Sendable, Equatable {
    package var deadband: Deadband
    package var maxSilence: Duration

    package init(deadband: Deadband, maxSilence: Duration) {
        self.deadband = deadband
        self.maxSilence = maxSilence
    }
}

/// What was last sent of each series, to decide what to send next. Applied after detection, which sees every sample;
/// only what goes upstream is thinned. Values are compared as sets: a sample's value, or an interval's minimum,
/// maximum and mean (any of them moving is a change).
package struct ChangeFilter: Sendable {
    private struct Sent {
        var values: [Double]
        var time: Int64
    }

    private var sent: [Series: Sent] = [:]
    /// The latest sample time seen: the samples' own clock (a replay's is in the past).
    private var latest: Int64 = .min

    package init() {}

    package var count: Int { sent.count }

    /// Whether to send `values` of `series` at `time` under `rule`; if so, they become the last sent.
    package mutating func admit(_ series: Series, values: [Double], time: Int64, rule: ChangeRule) -> Bool {
        latest = max(latest, time)
        if let last = sent[series], last.values.count == values.count,
            time - last.time < UnixNanos.from(rule.maxSilence),
            !zip(last.values, values).contains(where: { rule.deadband.passed(from: $0, to: $1) })
        {
            return false
        }
        sent[series] = Sent(values: values, time: time)
        return true
    }

    /// Forgets series last sent more than `age` nanoseconds before the latest sample (on the samples' clock), so
    /// series that stopped (an MQTT device gone) do not stay for good.
    package mutating func forget(olderThan age: Int64) {
        sent = sent.filter { $0.value.time >= UnixNanos.sum(latest, -age) }
    }
}
