import OutpostCore

/// Parses an HTTP `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
public enum RetryAfter {
    /// The delay from `now` (unix nanoseconds), or nil when the value is neither form. A date in the past is zero.
    public static func parse(_ value: String, now: Int64) -> Duration? {
        let text = value.trimmingSpaces()
        if let seconds = Int64(text), seconds >= 0 { return .seconds(seconds) }
        guard let date = HTTPDate.parse(text) else { return nil }
        return .nanoseconds(max(0, date - now))
    }
}

/// HTTP-dates (RFC 9110 §5.6.7): IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), and the obsolete RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`) forms recipients must accept.
public enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Unix nanoseconds, or nil.
    public static func parse(_ text: String) -> Int64? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        switch words.count {
        case 6 where words[5] == "GMT":  // IMF-fixdate
            return instant(day: words[1], month: words[2], year: words[3], time: words[4])
        case 4 where words[3] == "GMT":  // RFC 850: two-digit years are taken in 1970...2069
            let parts = words[1].split(separator: "-").map(String.init)
            guard parts.count == 3, let short = Int(parts[2]) else { return nil }
            let year = parts[2].count == 2 ? (short < 70 ? 2000 + short : 1900 + short) : short
            return instant(day: parts[0], month: parts[1], year: String(year), time: words[2])
        case 5:  // asctime
            return instant(day: words[2], month: words[1], year: words[4], time: words[3])
        default:
            return nil
        }
    }

    private static func instant(day: String, month: String, year: String, time: String) -> Int64? {
        let clock = time.split(separator: ":").compactMap { Int($0) }
        guard let day = Int(day), let year = Int(year), let month = months.firstIndex(of: month.lowercased()),
            clock.count == 3, (1...31).contains(day), clock[0] < 24, clock[1] < 60, clock[2] < 61
        else { return nil }
        let days = CivilCalendar.days(year: year, month: month + 1, day: day)
        return (days * 86_400 + Int64(clock[0] * 3600 + clock[1] * 60 + clock[2])) * 1_000_000_000
    }
}
