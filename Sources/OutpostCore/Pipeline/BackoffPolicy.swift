/// Exponential backoff with jitter, and when to give the receiver another try.
public struct BackoffPolicy: Sendable, Equatable {
    /// The first retry waits this long. Default 1 s.
    public var initial: Duration = .seconds(1)
    /// No wait is longer, whatever the number of failures. Default 5 min.
    public var maximum: Duration = .seconds(300)
    /// A receiver's `Retry-After` is honoured up to this long. Default 1 h.
    public var maximumRetryAfter: Duration = .seconds(3600)
    /// Each wait is randomised by ± this fraction, so a fleet that lost its backend together does not return to it
    /// in lockstep. Default 0.2.
    public var jitter = 0.2

    public init() {}

    /// The wait before attempt `failures + 1`: initial · 2^(failures − 1), capped, jittered.
    public func delay(afterFailures failures: Int, random: Double) -> Duration {
        let exponent = min(max(failures - 1, 0), 30)
        let base = min(UnixNanos.seconds(UnixNanos.from(initial)) * Double(1 << exponent),
                       UnixNanos.seconds(UnixNanos.from(maximum)))
        let factor = 1 + jitter * (2 * random - 1)
        return .nanoseconds(Int64(base * factor * 1e9))
    }
}
