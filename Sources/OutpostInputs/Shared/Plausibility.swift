import OutpostCore

/// Readings that cannot be true: not a number, infinite, or outside what the unit allows physically.
///
/// Every input checks a value before it becomes a sample, so NaN and ±Inf never reach a detector or an OTLP point
/// (receivers backed by InfluxDB and several vendors refuse them, often with the whole request), and a humidity of
/// 140 % or a temperature below absolute zero is reported as a sensor fault rather than fed to the baseline.
package enum Plausibility {
    /// The physical range of a UCUM unit, where it has one.
    static func range(of unit: String) -> ClosedRange<Double>? {
        switch unit {
        case "%": 0...100
        case "Cel": -273.15...Double.greatestFiniteMagnitude
        case "K": 0...Double.greatestFiniteMagnitude
        case "[degF]": -459.67...Double.greatestFiniteMagnitude
        case "Pa", "hPa", "kPa", "bar", "mbar", "lx", "ppm", "ppb", "By", "Hz", "ug/m3", "m/s":
            0...Double.greatestFiniteMagnitude
        default: nil
        }
    }

    /// Why `value` cannot be a reading in `unit` (the text of the value included), or nil when it can be.
    package static func problem(with value: Double, unit: String) -> String? {
        guard value.isFinite else { return "`\(value)` is not a number" }
        if let range = range(of: unit), !range.contains(value) {
            let lower = range.lowerBound.formatted, upper = range.upperBound
            let bounds = upper == .greatestFiniteMagnitude ? "below \(lower)" : "outside \(lower)…\(upper.formatted)"
            return "\(value.formatted) \(unit) is \(bounds) \(unit), physically impossible"
        }
        return nil
    }
}

extension Double {
    /// `40` rather than `40.0`, for messages.
    fileprivate var formatted: String {
        self == rounded() && magnitude < 1e15 ? String(Int64(self)) : String(self)
    }
}

/// One fault report per key and run of identical failures (see `FaultLatch`), for inputs with many series.
/// Keys are removed when their series reads well again, so the table holds only what is failing now.
package struct FaultLatches: Sendable {
    private var latches: [String: FaultLatch] = [:]

    package init() {}

    package mutating func shouldReport(_ reason: String, for key: String) -> Bool {
        latches[key, default: FaultLatch()].shouldReport(reason)
    }

    package mutating func clear(_ key: String) {
        latches[key] = nil
    }
}
