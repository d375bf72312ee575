/// Nanoseconds on a clock that only moves forward at a steady rate (never stepped by NTP, an operator or a missing
/// RTC): what waits and durations are measured on. Injected so tests decide how time passes.
public protocol MonotonicTime: Sendable {
    /// Nanoseconds since an arbitrary fixed point (positive, increasing).
    func nanos() -> Int64
}

/// The system's monotonic clock (`ContinuousClock`), counted from the first time it is read in this process.
public struct SystemMonotonicTime: MonotonicTime {
    private static let origin = ContinuousClock.now

    public init() {}

    public func nanos() -> Int64 {
        let elapsed = Self.origin.duration(to: ContinuousClock.now).components
        return elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000 + 1
    }
}
