import OutpostCore

/// One uplink's connection state and backoff, as a value that says when to try next (tested without sockets).
///
/// `up` after a delivery (or before the first attempt), `backingOff` after a failure that is worth retrying. A
/// permanent rejection leaves the state alone: the receiver answered, it just refused that batch. Every time here is
/// monotonic nanoseconds (`MonotonicClock`), never the wall clock, so a clock step cannot stall or rush a retry.
///
/// Two things hold an uplink back: the receiver (a retryable failure, `failed`) and the spool's bookkeeping (a
/// delivered batch that could not be marked delivered, `settleFailed`: the disk is full). Both back off
/// exponentially from `policy.initial`, so no path retries in a tight loop.
package struct UplinkConnectionState: Sendable, Equatable {
    package enum Phase: String, Sendable, Equatable {
        case starting
        case up
        case backingOff = "backing_off"
    }

    /// A change the operator should hear about (an `outpost.uplink.state` event): one per change of phase, never one
    /// per attempt, carrying how many attempts failed in between.
    package struct Transition: Sendable, Equatable {
        package let from: Phase
        package let to: Phase
        package let reason: String
        /// Failed attempts since the last delivery: 1 when an outage starts, the outage's total when it ends.
        package var failedAttempts = 0
        /// Changes of a flapping uplink that were held back since the previous report (see `StateReports`).
        package var changesHeldBack = 0
    }

    package private(set) var phase = Phase.starting
    /// Consecutive failures since the last delivery.
    package private(set) var failures = 0
    /// Consecutive bookkeeping (spool) failures since the last one that worked.
    package private(set) var settleFailures = 0
    /// Monotonic nanoseconds before which nothing should be sent (0: at once).
    package private(set) var nextAttempt: Int64 = 0
    /// When the last attempt (a send, or a retried settle) was made, in monotonic nanoseconds.
    package private(set) var lastAttempt: Int64?
    package private(set) var lastError: String?
    package let policy: BackoffPolicy

    package init(policy: BackoffPolicy) {
        self.policy = policy
    }

    /// How long to wait at `now` before the next attempt (zero: go).
    package func wait(now: Int64) -> Duration {
        nextAttempt > now ? .nanoseconds(nextAttempt - now) : .zero
    }

    package mutating func attempting(now: Int64) {
        lastAttempt = now
    }

    package mutating func delivered() -> Transition? {
        let failed = failures
        failures = 0
        nextAttempt = 0
        let reason = failed > 0 ? "delivering after \(failed) failed attempt(s)" : "delivering"
        var transition = move(to: .up, reason: reason)
        transition?.failedAttempts = failed
        return transition
    }

    /// A retryable failure at `now` (the receiver is down, overloaded or slow): returns the next attempt time and the
    /// transition, if any. `retryAfter` is the receiver's hint; it never shortens the backoff (see `BackoffPolicy`).
    package mutating func failed(reason: String, retryAfter: Duration?, now: Int64, random: Double)
        -> (nextAttempt: Int64, transition: Transition?)
    {
        failures += 1
        lastError = reason
        let wait = policy.delay(afterFailures: failures, retryAfter: retryAfter, random: random)
        nextAttempt = UnixNanos.sum(now, UnixNanos.from(wait))
        var transition = move(to: .backingOff, reason: reason)
        transition?.failedAttempts = failures
        return (nextAttempt, transition)
    }

    package mutating func rejected(reason: String) {
        lastError = reason
    }

    /// The spool could not record what happened to a batch (disk full, I/O error): wait before trying again, longer
    /// each time, instead of sending the same batch again at once. The first wait is at least 1 s even when
    /// `initial_backoff` is shorter: a full disk does not clear in milliseconds. Returns the next attempt time.
    package mutating func settleFailed(reason: String, now: Int64, random: Double) -> Int64 {
        settleFailures += 1
        lastError = reason
        var settlePolicy = policy
        settlePolicy.initial = max(policy.initial, .seconds(1))
        let wait = settlePolicy.delay(afterFailures: settleFailures, random: random)
        nextAttempt = max(nextAttempt, UnixNanos.sum(now, UnixNanos.from(wait)))
        return nextAttempt
    }

    /// The spool recorded a batch's outcome again.
    package mutating func settled() {
        settleFailures = 0
    }

    /// The way to the receiver is open again (the MQTT client reconnected): a waiting uplink tries at once, but never
    /// sooner than `policy.initial` after its last attempt, so a flapping link cannot make it spin. Returns whether the
    /// wait got shorter.
    @discardableResult
    package mutating func reachable(now: Int64) -> Bool {
        guard phase == .backingOff, settleFailures == 0, nextAttempt > now else { return false }
        let earliest = UnixNanos.sum(lastAttempt ?? now, UnixNanos.from(policy.initial))
        let next = max(now, earliest)
        guard next < nextAttempt else { return false }
        nextAttempt = next
        return true
    }

    private mutating func move(to next: Phase, reason: String) -> Transition? {
        guard next != phase else { return nil }
        let transition = Transition(from: phase, to: next, reason: reason)
        phase = next
        // Starting → up is not news; everything else is.
        return transition.from == .starting && next == .up ? nil : transition
    }
}

/// Keeps `outpost.uplink.state` reports to one per change, and those of a flapping uplink to two per `interval`.
///
/// The reports travel through the uplinks they report on (an uplink state event is an alert), so a receiver that
/// fails every other request would otherwise make each report cause the next. An outage and its end are reported at
/// once (two reports); further changes within `interval` of the earlier of those are held, and the latest is
/// reported when the interval is over if it leaves the uplink in another state than last reported, counting those
/// held back (a flap that ends where it started is counted in the next report).
package struct StateReports: Sendable {
    package let interval: Int64
    /// The times of the last two reports, older first.
    private var recent: (older: Int64?, newer: Int64?) = (nil, nil)
    private var reported = UplinkConnectionState.Phase.up
    private var held: UplinkConnectionState.Transition?
    private var heldBack = 0

    package init(interval: Duration = .seconds(60)) {
        self.interval = UnixNanos.from(interval)
    }

    /// A change at `now`: the report to send now, if any.
    package mutating func changed(_ transition: UplinkConnectionState.Transition, now: Int64)
        -> UplinkConnectionState.Transition?
    {
        guard let older = recent.older, now - older < interval else { return report(transition, now: now) }
        held = transition
        heldBack += 1
        return nil
    }

    /// The held change to report at `now`, once the interval is over.
    package mutating func due(now: Int64) -> UplinkConnectionState.Transition? {
        guard let held, let older = recent.older, now - older >= interval else { return nil }
        self.held = nil
        guard held.to != reported else { return nil }
        return report(held, now: now)
    }

    /// How long until a held change is due (nil: none held).
    package func dueIn(now: Int64) -> Duration? {
        guard held != nil, let older = recent.older else { return nil }
        return .nanoseconds(max(0, older + interval - now))
    }

    private mutating func report(_ transition: UplinkConnectionState.Transition, now: Int64)
        -> UplinkConnectionState.Transition
    {
        let note = heldBack > 0 ? " (\(heldBack) earlier change(s) not reported: the uplink is flapping)" : ""
        var transition = UplinkConnectionState.Transition(from: transition.from, to: transition.to,
                                                          reason: transition.reason + note,
                                                          failedAttempts: transition.failedAttempts)
        transition.changesHeldBack = heldBack
        heldBack = 0
        held = nil
        recent = (recent.newer, now)
        reported = transition.to
        return transition
    }
}
