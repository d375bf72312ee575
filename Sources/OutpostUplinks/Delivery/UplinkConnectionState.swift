import OutpostCore

/// One uplink's connection state, as a value that returns what to do (tested without sockets).
///
/// `up` after a delivery (or before the first attempt), `backingOff` after a failure that is worth retrying. A
/// permanent rejection leaves the state alone: the receiver answered, it just refused that batch.
public struct UplinkConnectionState: Sendable, Equatable {
    public enum Phase: String, Sendable, Equatable {
        case starting
        case up
        case backingOff = "backing_off"
    }

    /// A change the operator should hear about (an `outpost.uplink.state` event).
    public struct Transition: Sendable, Equatable {
        public let from: Phase
        public let to: Phase
        public let reason: String
    }

    public private(set) var phase = Phase.starting
    /// Consecutive failures since the last delivery.
    public private(set) var failures = 0
    /// Unix nanoseconds before which no batch should be sent (while backing off).
    public private(set) var nextAttempt: Int64 = 0
    public private(set) var lastError: String?
    public let policy: BackoffPolicy

    public init(policy: BackoffPolicy) {
        self.policy = policy
    }

    public mutating func delivered() -> Transition? {
        failures = 0
        nextAttempt = 0
        return move(to: .up, reason: "delivering")
    }

    /// A retryable failure at `now`: returns the next attempt time and the transition, if any.
    public mutating func failed(reason: String, retryAfter: Duration?, now: Int64, random: Double)
        -> (nextAttempt: Int64, transition: Transition?)
    {
        failures += 1
        lastError = reason
        let wait = retryAfter.map { min($0, policy.maximumRetryAfter) }
            ?? policy.delay(afterFailures: failures, random: random)
        nextAttempt = now + UnixNanos.from(wait)
        return (nextAttempt, move(to: .backingOff, reason: reason))
    }

    public mutating func rejected(reason: String) {
        lastError = reason
    }

    private mutating func move(to next: Phase, reason: String) -> Transition? {
        guard next != phase else { return nil }
        let transition = Transition(from: phase, to: next, reason: reason)
        phase = next
        // Starting → up is not news; everything else is.
        return transition.from == .starting && next == .up ? nil : transition
    }
}
