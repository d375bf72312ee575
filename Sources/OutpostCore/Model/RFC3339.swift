/// RFC 3339 UTC timestamps with millisecond precision, without Foundation's formatters.
package enum RFC3339 {
    package static func format(_ unixNanos: Int64) -> String {
        let millis = unixNanos >= 0 ? unixNanos / 1_000_000 : (unixNanos - 999_999) / 1_000_000
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let milliPart = millis - seconds * 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = CivilCalendar.date(days: days)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay % 3600 / 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(milliPart, 3))Z"
    }

    /// The local wall time of `unixNanos` at `offsetSeconds` east of UTC, to the second, with its offset:
    /// `2026-12-07T01:00:00+01:00`.
    package static func format(_ unixNanos: Int64, offsetSeconds: Int) -> String {
        let seconds = (unixNanos >= 0 ? unixNanos / 1_000_000_000 : (unixNanos - 999_999_999) / 1_000_000_000)
            + Int64(offsetSeconds)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = CivilCalendar.date(days: days)
        let offset = Int64(abs(offsetSeconds))
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay % 3600 / 60, 2)):\(pad(secondOfDay % 60, 2))" + (offsetSeconds < 0 ? "-" : "+")
            + "\(pad(offset / 3600, 2)):\(pad(offset % 3600 / 60, 2))"
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
