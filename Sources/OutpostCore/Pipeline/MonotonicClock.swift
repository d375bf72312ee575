/// Nanoseconds since a fixed origin on an injected monotonic `Clock`: what every wait and age measures.
///
/// The wall clock (`WallClock`) only stamps samples. It can step back or forward by hours (NTP correcting a clock
/// that ran fast, a Pi without an RTC booting in 1970), and a wait measured on it would stall or fire early. Give
/// this `ContinuousClock()` in production and a `ManualClock` in tests.
package struct MonotonicClock: Sendable {
    private let read: @Sendable () -> Int64

    package init<C: Clock<Duration>>(_ clock: C) {
        let origin = clock.now
        read = { UnixNanos.from(origin.duration(to: clock.now)) }
    }

    /// Nanoseconds since this value was made; never goes back.
    package func nowNanos() -> Int64 { read() }
}

/// Anything that reads monotonic nanoseconds: `MonotonicClock` in production, a hand-set clock in tests.
package protocol MonotonicTime: Sendable {
    /// Nanoseconds since an arbitrary fixed point: positive (never zero) and never decreasing.
    func nanos() -> Int64
}

extension MonotonicClock: MonotonicTime {
    /// `nowNanos() + 1`: never zero, so a value negated to mark a provisional stamp is always negative.
    package func nanos() -> Int64 { nowNanos() + 1 }
}
