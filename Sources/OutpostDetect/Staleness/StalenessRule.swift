import OutpostCore

/// Notices a series that stopped reporting: `outpost.device.stale` once after `limit` without a sample, and
/// `outpost.device.recovered` when samples return.
///
/// Silence is measured by the checks, not by subtracting wall-clock times: each check adds the time since the
/// previous one (or the latest sample), capped at `maximumStep`. Checks come about once a second from a ticker
/// that sleeps on the monotonic clock, so a wall clock stepped by NTP (a Pi booting in 1970, then set to today) adds at most one capped step and
/// never makes every series look silent for 56 years; a clock stepped back does not make silence negative.
package struct StalenessRule: Sendable {
    /// The most one check may add to the silence: a wall-clock step of any size counts as this much.
    package static let maximumStep: Int64 = 2 * UnixNanos.perSecond

    /// How long a series may stay silent, in nanoseconds.
    package let limit: Int64
    /// Wall time of the latest sample (reported in the events' attributes).
    package private(set) var lastSeen: Int64
    package private(set) var isStale = false
    /// Nanoseconds of silence so far, summed from the checks.
    package private(set) var silence: Int64 = 0
    private var lastCheck: Int64

    package init(limit: Duration, firstSeen: Int64) {
        self.limit = UnixNanos.from(limit)
        self.lastSeen = firstSeen
        self.lastCheck = firstSeen
    }

    package mutating func sampleArrived(_ sample: Sample) -> [Event] {
        let silent = silence
        lastSeen = max(lastSeen, sample.time)
        silence = 0
        // Silence starts at the sample, not at the last check; a stamp far off (a device's own clock) moves the
        // start by at most one step.
        lastCheck = max(lastCheck, min(sample.time, lastCheck &+ Self.maximumStep))
        guard isStale else { return [] }
        isStale = false
        let seconds = UnixNanos.seconds(silent)
        return [event(.deviceRecovered, series: sample.series, time: sample.time, severity: .info,
                      message: "\(sample.series.name) reports again after \(formatted(seconds))s of silence",
                      silence: seconds)]
    }

    package mutating func check(series: Series, now: Int64) -> [Event] {
        silence += min(max(0, now &- lastCheck), Self.maximumStep)
        lastCheck = now
        guard !isStale, silence > limit else { return [] }
        isStale = true
        let seconds = UnixNanos.seconds(silence)
        return [event(.deviceStale, series: series, time: now, severity: .warn,
                      message: "\(series.name) has sent no sample for \(formatted(seconds))s", silence: seconds)]
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
