/// Exponential backoff with jitter, and when to give the receiver another try.
///
/// Every wait it returns lies between `initial` (the floor: nothing retries faster, whatever a receiver says) and the
/// larger of `maximum` and `maximumRetryAfter`; no input, however large, makes it trap.
package struct BackoffPolicy: Sendable, Equatable {
    /// The first retry waits this long, and no retry waits less. Default 1 s.
    package var initial: Duration = .seconds(1)
    /// No wait is longer, whatever the number of failures. Default 5 min.
    package var maximum: Duration = .seconds(300)
    /// A receiver's `Retry-After` is honoured up to this long. Default 1 h.
    package var maximumRetryAfter: Duration = .seconds(3600)
    /// Each wait is randomised by ± this fraction, so a fleet that lost its backend together does not return to it
    /// in lockstep. Default 0.2.
    package var jitter = 0.2

    package init() {}

    /// The wait before attempt `failures + 1`: initial · 2^(failures − 1), jittered, kept within initial...maximum.
    package func delay(afterFailures failures: Int, random: Double) -> Duration {
        let exponent = failures <= 1 ? 0 : min(failures - 1, 62)
        let floor = Self.seconds(initial), ceiling = max(Self.seconds(maximum), floor)
        let base = min(floor * Double(sign: .plus, exponent: exponent, significand: 1), ceiling)
        let factor = 1 + min(max(jitter, 0), 1) * (2 * min(max(random, 0), 1) - 1)
        let wait = base * factor
        return Self.duration(seconds: wait.isFinite ? min(max(wait, floor), ceiling) : floor)
    }

    /// The wait after a retryable failure, given what the receiver asked for (`Retry-After`), if anything.
    ///
    /// As the OpenTelemetry Collector's exporters do: the longer of the exponential backoff and the receiver's hint,
    /// the hint capped at `maximumRetryAfter`. A hint of zero (or a date in the past) is no useful hint, so the
    /// backoff still grows: a receiver answering `Retry-After: 0` is not hammered.
    package func delay(afterFailures failures: Int, retryAfter: Duration?, random: Double) -> Duration {
        let backoff = delay(afterFailures: failures, random: random)
        guard let retryAfter, retryAfter > backoff else { return backoff }
        return min(retryAfter, max(maximumRetryAfter, backoff))
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// A non-negative finite number of seconds as a Duration, saturating at about 31 million years.
    static func duration(seconds: Double) -> Duration {
        guard seconds.isFinite, seconds > 0 else { return .zero }
        let capped = min(seconds, 1e15)
        let whole = capped.rounded(.down)
        return .seconds(Int64(whole)) + .nanoseconds(Int64(((capped - whole) * 1e9).rounded()))
    }
}
