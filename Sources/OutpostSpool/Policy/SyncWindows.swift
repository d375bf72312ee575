import OutpostCore

/// `sync_windows = ["01:00-05:00", "12:00-12:30"]`: the times of day, in the gateway's local time zone, when an
/// uplink may send more than alerts.
///
/// A window is a range of local wall-clock time, judged instant by instant: an instant is inside when its local time
/// of day is. So a window across midnight (`"22:00-06:00"`) works, and daylight saving time is handled by the zone's
/// own rules: on the night clocks go forward, `"01:00-05:00"` lasts 3 hours, on the night they go back 5 (the
/// repeated hour is inside twice), and a window that starts in the skipped hour opens at its end.
package struct SyncWindows: Sendable, Equatable {
    /// One window: seconds since local midnight; `end` may be below `start` (across midnight). `"00:00-24:00"` is
    /// the whole day.
    package struct Window: Sendable, Equatable, CustomStringConvertible {
        package let start: Int
        package let end: Int

        package init(start: Int, end: Int) {
            self.start = start
            self.end = end
        }

        package func contains(secondOfDay second: Int) -> Bool {
            start < end ? second >= start && second < end : second >= start || second < end
        }

        package var description: String { Self.clock(start) + "-" + Self.clock(end) }

        private static func clock(_ seconds: Int) -> String {
            let hours = seconds / 3600, minutes = seconds % 3600 / 60
            return (hours < 10 ? "0" : "") + "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes)"
        }
    }

    package let windows: [Window]

    package init(_ windows: [Window]) {
        self.windows = windows
    }

    /// `"HH:MM-HH:MM"` (24-hour, `24:00` allowed as an end); nil and a reason when it cannot be read.
    package static func parse(_ text: String) -> Result<Window, WindowError> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = clock(parts[0], allowing24: false),
            let end = clock(parts[1], allowing24: true)
        else {
            return .failure(WindowError(message: "`\(text)` is not a window; write \"HH:MM-HH:MM\" in local time, "
                + "e.g. \"01:00-05:00\" or \"22:00-06:00\""))
        }
        guard start != end % 86_400 || end == 86_400 else {
            return .failure(WindowError(message: "`\(text)` starts and ends at the same time; \"00:00-24:00\" is the "
                + "whole day"))
        }
        return .success(Window(start: start, end: end))
    }

    package struct WindowError: Error, Sendable {
        package let message: String
    }

    private static func clock(_ text: Substring, allowing24: Bool) -> Int? {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 2, fields.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) }),
            let hours = Int(fields[0]), let minutes = Int(fields[1]), (0..<60).contains(minutes)
        else { return nil }
        guard hours < 24 || (allowing24 && hours == 24 && minutes == 0) else { return nil }
        return hours * 3600 + minutes * 60
    }

    /// Whether the instant `unixNanos` is inside a window in `zone`. No windows: always open.
    package func isOpen(at unixNanos: Int64, zone: TimeZoneRules) -> Bool {
        guard !windows.isEmpty else { return true }
        let second = LocalTime(unixNanos: unixNanos, zone: zone).secondOfDay
        return windows.contains { $0.contains(secondOfDay: second) }
    }

    /// The first instant after `unixNanos` when the windows open (or close, when `opening` is false), to the minute,
    /// within two days; nil when there is none (no windows, or always open).
    package func nextChange(after unixNanos: Int64, toOpen opening: Bool, zone: TimeZoneRules) -> Int64? {
        guard !windows.isEmpty else { return nil }
        let minute: Int64 = 60_000_000_000
        var candidate = (unixNanos / minute + 1) * minute
        for _ in 0..<(2 * 24 * 60) {
            if isOpen(at: candidate, zone: zone) == opening { return candidate }
            candidate += minute
        }
        return nil
    }

    package var description: String { windows.map(\.description).joined(separator: ", ") }
}
