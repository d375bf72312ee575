/// Parses the human quantities used in config files: durations (`250ms`, `5s`, `1m30s`, `2h`, `7d`) and sizes
/// (`512KiB`, `64MiB`, `1GB`, `4096`).
package enum ConfigQuantities {
    private static let durationUnits: [(suffix: String, nanos: Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("d", 86_400e9),
    ]

    private static let sizeUnits: [String: Double] = [
        "": 1, "B": 1,
        "KB": 1e3, "MB": 1e6, "GB": 1e9,
        "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824,
    ]

    /// The longest duration a config may give (3650 days): far beyond any sensible interval or timeout, and small
    /// enough that `now + duration` in Int64 unix nanoseconds cannot overflow until the year 2250.
    package static let maximumDurationNanos = 3650 * 86_400e9

    /// A duration from text like `1m30s`; a bare number is not accepted here (the reader takes numbers as seconds).
    /// Nil when it is not a duration or longer than `maximumDurationNanos`.
    package static func duration(_ text: String) -> Duration? {
        guard let nanos = durationNanos(text), nanos <= maximumDurationNanos else { return nil }
        return .nanoseconds(Int64(nanos.rounded()))
    }

    /// The nanoseconds a duration text spells, unbounded (only finite), so callers can tell "too long" from "not a
    /// duration".
    package static func durationNanos(_ text: String) -> Double? {
        var rest = Substring(text.trimmingSpaces())
        guard !rest.isEmpty else { return nil }
        var totalNanos = 0.0
        while !rest.isEmpty {
            guard let (number, afterNumber) = leadingNumber(rest) else { return nil }
            let unitText = afterNumber.prefix { $0.isLetter || $0 == "µ" }
            guard let unit = durationUnits.first(where: { $0.suffix == unitText }) else { return nil }
            totalNanos += number * unit.nanos
            rest = afterNumber.dropFirst(unitText.count)
        }
        return totalNanos.isFinite ? totalNanos : nil
    }

    /// A byte count from text like `64MiB`.
    package static func size(_ text: String) -> Int64? {
        let trimmed = Substring(text.trimmingSpaces())
        guard let (number, unitText) = leadingNumber(trimmed), let factor = sizeUnits[String(unitText)] else {
            return nil
        }
        let bytes = number * factor
        guard bytes.isFinite, bytes >= 0, bytes < 9e18 else { return nil }
        return Int64(bytes.rounded())
    }

    /// Formats a duration the way the config accepts it, for messages and `outpost check`.
    /// A byte count as the config writes it: `64MiB`, `1GiB`, `512KiB`, else plain bytes.
    package static func format(bytes: Int64) -> String {
        for (unit, size) in [("GiB", Int64(1) << 30), ("MiB", Int64(1) << 20), ("KiB", Int64(1) << 10)]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        // Data plans count in decimal units: 100MB, not 95.4MiB.
        for (unit, size) in [("GB", Int64(1_000_000_000)), ("MB", Int64(1_000_000)), ("KB", Int64(1000))]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)"
    }

    package static func format(_ duration: Duration) -> String {
        let nanos = UnixNanos.from(duration)
        for (suffix, unit) in [("d", Int64(86_400e9)), ("h", Int64(3600e9)), ("m", Int64(60e9)), ("s", Int64(1e9))]
        where nanos >= unit && nanos % unit == 0 {
            return "\(nanos / unit)\(suffix)"
        }
        if nanos % 1_000_000 == 0 { return "\(nanos / 1_000_000)ms" }
        return "\(nanos)ns"
    }

    private static func leadingNumber(_ text: Substring) -> (Double, Substring)? {
        let digits = text.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let number = Double(digits) else { return nil }
        return (number, text.dropFirst(digits.count))
    }
}

extension String {
    /// Leading and trailing spaces and tabs removed (FoundationEssentials has no `trimmingCharacters`).
    package func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
