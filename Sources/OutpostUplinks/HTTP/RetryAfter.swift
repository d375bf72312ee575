import OutpostCore

/// Reads an HTTP `Retry-After` value (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date.
///
/// An HTTP-date is read against the same response's `Date` header (RFC 9110 §6.6.1: the time the server made the
/// response), never against the gateway's clock, which may be years off at boot (no RTC) or stepped since. Anything
/// that cannot be read safely is `unusable` with a reason: the caller ignores it, warns, and backs off as usual. No
/// value, however large or strange, traps.
package enum RetryAfter {
    package enum Hint: Sendable, Equatable {
        /// Wait this long (zero for a date in the past: no useful hint).
        case delay(Duration)
        case unusable(String)
    }

    /// Longer hints mean "not in a long while": kept as ~31,700 years and capped by the backoff policy.
    static let longest: Int64 = 1_000_000_000_000

    package static func parse(_ value: String, serverDate: String?) -> Hint {
        let text = value.trimmingSpaces()
        guard !text.isEmpty, text.utf8.count <= 64 else { return .unusable("neither seconds nor an HTTP-date") }
        if text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            // delay-seconds = 1*DIGIT: a long run of digits is a long wait, not an overflow.
            let seconds = text.utf8.count <= 12 ? Int64(text) ?? longest : longest
            return .delay(.seconds(min(seconds, longest)))
        }
        guard let date = HTTPDate.unixSeconds(text) else {
            return .unusable("neither seconds nor an HTTP-date in years 1 to 9999")
        }
        guard let serverDate, let now = HTTPDate.unixSeconds(serverDate.trimmingSpaces()) else {
            return .unusable("an HTTP-date, but the response has no usable Date header to read it against")
        }
        return .delay(.seconds(max(0, date - now)))
    }
}

/// HTTP-dates (RFC 9110 §5.6.7): IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), and the obsolete RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`) forms recipients must accept.
package enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Seconds since 1970-01-01 UTC, or nil for anything else, including years outside 1...9999.
    package static func unixSeconds(_ text: String) -> Int64? {
        guard text.utf8.count <= 64 else { return nil }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        switch words.count {
        case 6 where words[5] == "GMT":  // IMF-fixdate
            return instant(day: words[1], month: words[2], year: words[3], time: words[4])
        case 4 where words[3] == "GMT":  // RFC 850: two-digit years are taken in 1970...2069
            let parts = words[1].split(separator: "-").map(String.init)
            guard parts.count == 3, let short = number(parts[2]) else { return nil }
            let year = parts[2].count == 2 ? (short < 70 ? 2000 + short : 1900 + short) : short
            return instant(day: parts[0], month: parts[1], year: String(year), time: words[2])
        case 5:  // asctime
            return instant(day: words[2], month: words[1], year: words[4], time: words[3])
        default:
            return nil
        }
    }

    private static func instant(day: String, month: String, year: String, time: String) -> Int64? {
        let clock = time.split(separator: ":", omittingEmptySubsequences: false).map { number(String($0)) }
        guard let day = number(day), let year = number(year), let month = months.firstIndex(of: month.lowercased()),
            clock.count == 3, let hour = clock[0], let minute = clock[1], let second = clock[2],
            (1...31).contains(day), (1...9999).contains(year), hour < 24, minute < 60, second < 61
        else { return nil }
        let days = CivilCalendar.days(year: year, month: month + 1, day: day)
        return days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// A short run of ASCII digits (no sign, no spaces), or nil.
    private static func number(_ text: String) -> Int? {
        guard (1...11).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            return nil
        }
        return Int(text)
    }
}
