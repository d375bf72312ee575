import OutpostCore

/// When a device says it took its readings: a payload's time field (`[[input.mqtt]] time_field`).
///
/// Accepted: unix seconds or milliseconds (a number, or digits in a string; above 10^11 it is milliseconds) and
/// RFC 3339 with a zone (`2026-12-06T10:00:00Z`, `…+01:00`). A time without a zone (Tasmota's default `Time`, which
/// is the device's local time) could be hours off, so it is refused: Tasmota adds the zone with `SetOption52 1`,
/// Zigbee2MQTT with `advanced.last_seen: ISO_8601` or `epoch`.
enum DeviceTime {
    /// How far back a device's time may lie: a persistent session keeps a backlog for an hour (MQTT 5 session expiry)
    /// or, with MQTT 3.1.1, until the broker restarts; a week covers a long outage.
    static let maximumAge: Int64 = 7 * 86_400 * 1_000_000_000
    /// How far ahead: clocks disagree a little.
    static let maximumAhead: Int64 = 300 * 1_000_000_000

    static func stamp(_ value: JSONValue, now: Int64) -> Result<Int64, Reason> {
        let stamp: Int64
        switch value {
        case .number(let number):
            guard let epoch = fromEpoch(number) else { return .failure(Reason("`\(number)` is not a time")) }
            stamp = epoch
        case .string(let text):
            if let number = Double(text), JSONReadingRule.isStrictDecimal(text) {
                guard let epoch = fromEpoch(number) else {
                    return .failure(Reason("`\(text.prefix(40))` is not a time"))
                }
                stamp = epoch
            } else {
                guard hasZone(text) else {
                    return .failure(Reason("`\(text.prefix(40))` names no time zone (Tasmota: SetOption52 1)"))
                }
                guard let parsed = Timestamp.parse(text) else {
                    return .failure(Reason("`\(text.prefix(40))` is not a time"))
                }
                stamp = parsed
            }
        default:
            return .failure(Reason("not a time"))
        }
        guard stamp >= now - maximumAge, stamp <= now + maximumAhead else {
            return .failure(Reason("\(RFC3339.format(stamp)) is more than a week before or five minutes after "
                + "Outpost's clock"))
        }
        return .success(stamp)
    }

    /// Why a device time was not used.
    struct Reason: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    private static func fromEpoch(_ number: Double) -> Int64? {
        let seconds = number > 1e11 ? number / 1000 : number
        guard seconds.isFinite, seconds >= 0, seconds < Double(Timestamp.range.upperBound) else { return nil }
        return Int64(seconds * 1e9)
    }

    /// `Z` or `±hh:mm` / `±hhmm` after the time of day.
    private static func hasZone(_ text: String) -> Bool {
        let trimmed = text.trimmingSpaces()
        guard trimmed.count > 19 else { return false }
        let tail = trimmed.dropFirst(19)
        return tail.hasSuffix("Z") || tail.hasSuffix("z") || tail.contains("+") || tail.contains("-")
    }
}
