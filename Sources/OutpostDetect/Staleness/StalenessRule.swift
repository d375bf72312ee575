import OutpostCore

/// Notices a series that stopped reporting: `outpost.device.stale` once after `limit` without a sample, and
/// `outpost.device.recovered` when samples return.
public struct StalenessRule: Sendable {
    /// How long a series may stay silent, in nanoseconds.
    public let limit: Int64
    public private(set) var lastSeen: Int64
    public private(set) var isStale = false

    public init(limit: Duration, firstSeen: Int64) {
        self.limit = UnixNanos.from(limit)
        self.lastSeen = firstSeen
    }

    public mutating func sampleArrived(_ sample: Sample) -> [Event] {
        defer { lastSeen = max(lastSeen, sample.time) }
        guard isStale else { return [] }
        isStale = false
        let silence = UnixNanos.seconds(sample.time - lastSeen)
        return [event(.deviceRecovered, series: sample.series, time: sample.time, severity: .info,
                      message: "\(sample.series.name) reports again after \(formatted(silence))s of silence",
                      silence: silence)]
    }

    public mutating func check(series: Series, now: Int64) -> [Event] {
        guard !isStale, now - lastSeen > limit else { return [] }
        isStale = true
        let silence = UnixNanos.seconds(now - lastSeen)
        return [event(.deviceStale, series: series, time: now, severity: .warn,
                      message: "\(series.name) has sent no sample for \(formatted(silence))s", silence: silence)]
    }

    private func event(_ name: EventName, series: Series, time: Int64, severity: Severity, message: String,
                       silence: Double) -> Event {
        var attributes = Attributes()
        attributes["outpost.series"] = .string(series.name)
        attributes["outpost.last_seen"] = .int(lastSeen)
        attributes["outpost.silence_s"] = .double(silence)
        attributes["outpost.stale_after_s"] = .double(UnixNanos.seconds(limit))
        return Event(name: name, severity: severity, time: time, series: series, message: message, attributes: attributes)
    }
}
