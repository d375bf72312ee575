import OutpostCore

/// Parses the timestamps recorded data comes with, to unix nanoseconds.
///
/// Accepted: RFC 3339 (`2026-03-01T12:00:00Z`, `2026-03-01T12:00:00.250+01:00`), `YYYY-MM-DD HH:MM:SS` with
/// optional fraction (taken as UTC, since it names no zone), and unix seconds (`1772366400`, `1772366400.25`).
///
/// Only instants from 1970-01-01 up to (not including) 2200-01-01 are accepted (`range`): OTLP carries times as
/// unsigned nanoseconds since 1970, and keeping every time non-negative and far below `Int64.max` means no
/// difference or `time + duration` in the pipeline can overflow. Everything is range-checked before it meets
/// Int64 nanoseconds, so no text can make the parser trap.
package enum Timestamp {
    /// Why a text is not a usable timestamp.
    package enum Failure: Error, Equatable {
        case notATimestamp
        case outOfRange
    }

    /// 1970-01-01T00:00:00Z ..< 2200-01-01T00:00:00Z in seconds.
    package static let range: Range<Int64> = 0..<7_258_118_400

    package static func parse(_ text: String) -> Int64? {
        try? parseChecked(text)
    }

    package static func parseChecked(_ text: String) throws(Failure) -> Int64 {
        var trimmed = text.trimmingSpaces()
        let result = trimmed.withUTF8 { bytes in Result { () throws(Failure) in try parseChecked(bytes: bytes) } }
        return try result.get()
    }

    /// `parseChecked` on the bytes of a field without surrounding spaces: what replay files go through.
    package static func parseChecked(bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> Int64 {
        guard !bytes.isEmpty else { throw .notATimestamp }
        if bytes.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }),
            !bytes.dropFirst().contains(UInt8(ascii: "-"))
        {
            return try unixSeconds(bytes)
        }
        guard let (seconds, nanos) = dateTime(bytes) else { throw .notATimestamp }
        return try instant(seconds: seconds, nanos: nanos)
    }

    /// Seconds and a fraction as unix nanoseconds, refused outside `range` before they are multiplied.
    private static func instant(seconds: Int64, nanos: Int64) throws(Failure) -> Int64 {
        guard range.contains(seconds) else { throw .outOfRange }
        return seconds * 1_000_000_000 + nanos
    }

    /// Digits, a leading `-` and at most one `.`: a negative or too long number is out of range, not malformed.
    private static func unixSeconds(_ bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> Int64 {
        let dot = bytes.firstIndex(of: UInt8(ascii: "."))
        let whole = UnsafeBufferPointer(rebasing: bytes[..<(dot ?? bytes.count)])
        let negative = whole.first == UInt8(ascii: "-")
        let digits = negative ? UnsafeBufferPointer(rebasing: whole.dropFirst()) : whole
        guard !digits.isEmpty else { throw .notATimestamp }
        if let dot, bytes[(dot + 1)...].contains(UInt8(ascii: ".")) { throw .notATimestamp }
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        guard !negative, significant.count <= 18 else { throw .outOfRange }
        var seconds: Int64 = 0
        for digit in significant { seconds = seconds * 10 + Int64(digit - 48) }
        var nanos: Int64 = 0
        if let dot {
            guard let value = fractionNanos(UnsafeBufferPointer(rebasing: bytes[(dot + 1)...])) else { throw .notATimestamp }
            nanos = value
        }
        return try instant(seconds: seconds, nanos: nanos)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    /// Seconds (UTC) and nanoseconds of an RFC 3339-like date; years have four digits, so no overflow here.
    private static func dateTime(_ b: UnsafeBufferPointer<UInt8>) -> (Int64, Int64)? {
        // YYYY-MM-DD?HH:MM:SS
        guard b.count >= 19, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
            [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(b[10]),
            b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
            let year = number(b, 0, 4), let month = number(b, 5, 2), let day = number(b, 8, 2),
            let hour = number(b, 11, 2), let minute = number(b, 14, 2), let second = number(b, 17, 2),
            (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var nanos: Int64 = 0
        if index < b.count, b[index] == UInt8(ascii: ".") {
            let start = index + 1
            index = start
            while index < b.count, b[index] >= 48, b[index] <= 57 { index += 1 }
            guard let fraction = fractionNanos(UnsafeBufferPointer(rebasing: b[start..<index])) else { return nil }
            nanos = fraction
        }
        guard let offsetSeconds = zoneOffset(UnsafeBufferPointer(rebasing: b[index...])) else { return nil }
        let days = CivilCalendar.days(year: year, month: month, day: day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - offsetSeconds
        return (seconds, nanos)
    }

    /// Seconds east of UTC: `Z`, `+01:00`, `-0530`, or nothing (UTC).
    private static func zoneOffset(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        if b.isEmpty || (b.count == 1 && (b[0] == UInt8(ascii: "Z") || b[0] == UInt8(ascii: "z"))) { return 0 }
        guard b.count == 6 || b.count == 5, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-"),
            let hours = number(b, 1, 2)
        else { return nil }
        let minutesStart = b.count == 6 ? 4 : 3
        guard b.count == 5 || b[3] == UInt8(ascii: ":"), let minutes = number(b, minutesStart, 2) else { return nil }
        let offset = Int64(hours * 3600 + minutes * 60)
        return b[0] == UInt8(ascii: "-") ? -offset : offset
    }

    private static func fractionNanos(_ digits: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        var nanos: Int64 = 0
        for position in 0..<9 {
            nanos = nanos * 10 + (position < digits.count ? Int64(digits[position] - 48) : 0)
        }
        return nanos
    }

    private static func number(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Int? {
        guard start + count <= b.count else { return nil }
        var value = 0
        for byte in b[start..<start + count] {
            guard byte >= 48, byte <= 57 else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
