/// One measured value of one series at one time.
package struct Sample: Sendable {
    package let series: Series
    /// Unix time in nanoseconds (the OTLP representation).
    package let time: Int64
    package let value: Double

    package init(series: Series, time: Int64, value: Double) {
        self.series = series
        self.time = time
        self.value = value
    }
}

/// Nanosecond arithmetic shared by every stage, so durations never round-trip through Double by accident.
package enum UnixNanos {
    package static let perSecond: Int64 = 1_000_000_000

    /// Nanoseconds in `duration`, saturating at the Int64 range: a duration is never a reason to trap.
    package static func from(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: perSecond)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (total, overflowAgain) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        guard !overflowAgain else { return seconds < 0 ? .min : .max }
        return total
    }

    /// `a + b`, saturating at the ends of Int64 (a time plus a huge wait must not trap).
    package static func sum(_ a: Int64, _ b: Int64) -> Int64 {
        let (total, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : total
    }

    /// `to - from`, saturating (a wall clock stepped far back or forward must not trap).
    package static func difference(from: Int64, to: Int64) -> Int64 {
        let (difference, overflow) = to.subtractingReportingOverflow(from)
        return overflow ? (to > from ? .max : .min) : difference
    }

    package static func seconds(_ nanos: Int64) -> Double {
        Double(nanos) / Double(perSecond)
    }
}

/// The version of this build, reported by `outpost version` and in every export's resource.
package enum OutpostVersion {
    package static let current = "0.1.0"
}
