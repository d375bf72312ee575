import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostDelivery

@Suite("Uplink connection state machine (no sockets)")
struct UplinkConnectionStateTests {
    @Test("exponential backoff with jitter up to the cap; Retry-After wins; delivery resets")
    func backoff() {
        var policy = BackoffPolicy()
        policy.initial = .seconds(1)
        policy.maximum = .seconds(8)
        policy.jitter = 0.2
        #expect(policy.delay(afterFailures: 1, random: 0.5) == .seconds(1))
        #expect(policy.delay(afterFailures: 3, random: 0.5) == .seconds(4))
        #expect(policy.delay(afterFailures: 10, random: 0.5) == .seconds(8), "capped")
        #expect(policy.delay(afterFailures: 2, random: 0) == .milliseconds(1600), "-20 %")
        #expect(policy.delay(afterFailures: 2, random: 1) == .milliseconds(2400), "+20 %")

        var state = UplinkConnectionState(policy: policy)
        let first = state.failed(reason: "refused", retryAfter: nil, now: 0, random: 0.5)
        #expect(first.nextAttempt == 1_000_000_000)
        #expect(first.transition == .init(from: .starting, to: .backingOff, reason: "refused", failedAttempts: 1))
        let second = state.failed(reason: "refused", retryAfter: nil, now: 10, random: 0.5)
        #expect(second.nextAttempt == 10 + 2_000_000_000)
        #expect(second.transition == nil, "still backing off: no new event")
        let told = state.failed(reason: "503", retryAfter: .seconds(30), now: 0, random: 0.5)
        #expect(told.nextAttempt == 30_000_000_000, "a longer Retry-After beats the backoff")
        let recovered = state.delivered()
        #expect(recovered == .init(from: .backingOff, to: .up, reason: "delivering after 3 failed attempt(s)",
                                   failedAttempts: 3))
        #expect(state.failures == 0)
        let again = state.delivered()
        #expect(again == nil)
    }

    @Test("the first delivery is not news; a rejection leaves the connection state alone")
    func quietStart() {
        var state = UplinkConnectionState(policy: BackoffPolicy())
        let first = state.delivered()
        #expect(first == nil)
        state.rejected(reason: "HTTP 400")
        #expect(state.phase == .up)
        #expect(state.lastError == "HTTP 400")
    }

    @Test("Retry-After is capped at max_retry_after")
    func retryAfterCap() {
        var policy = BackoffPolicy()
        policy.maximumRetryAfter = .seconds(60)
        var state = UplinkConnectionState(policy: policy)
        let capped = state.failed(reason: "429", retryAfter: .seconds(86_400), now: 0, random: 0.5)
        #expect(capped.nextAttempt == 60_000_000_000)
    }

    @Test("Retry-After: 0 is no hint: the backoff still grows 1, 2, 4 s; a shorter hint never shortens it")
    func retryAfterZero() {
        var state = UplinkConnectionState(policy: BackoffPolicy())
        var now: Int64 = 0
        var waits: [Int64] = []
        for _ in 0..<3 {
            let next = state.failed(reason: "503", retryAfter: .zero, now: now, random: 0.5).nextAttempt
            waits.append((next - now) / 1_000_000_000)
            now = next
        }
        #expect(waits == [1, 2, 4])
        let short = state.failed(reason: "503", retryAfter: .milliseconds(10), now: now, random: 0.5)
        #expect(short.nextAttempt - now == 8_000_000_000)
    }

    @Test("no wait is shorter than initial_backoff or longer than the caps, whatever the inputs", arguments: [
        (0, 0.0), (1, -5.0), (1, .nan), (64, 1.0), (Int.max, .infinity), (Int.min, 0.5),
    ])
    func bounds(failures: Int, random: Double) {
        var policy = BackoffPolicy()
        policy.maximum = .seconds(30)
        policy.jitter = 5
        let delay = policy.delay(afterFailures: failures, random: random)
        #expect(delay >= .seconds(1) && delay <= .seconds(30), "\(delay)")
        let told = policy.delay(afterFailures: failures, retryAfter: .seconds(Int64.max), random: random)
        #expect(told == policy.maximumRetryAfter)
        var state = UplinkConnectionState(policy: policy)
        let far = state.failed(reason: "x", retryAfter: .seconds(Int64.max), now: .max - 5, random: random)
        #expect(far.nextAttempt == .max, "saturates instead of overflowing")
    }

    @Test("a failed settle backs off exponentially from 1 s; a reconnect does not cut it short")
    func settleBackoff() {
        var state = UplinkConnectionState(policy: BackoffPolicy())
        let first = state.settleFailed(reason: "disk full", now: 0, random: 0.5)
        let second = state.settleFailed(reason: "disk full", now: 1_000_000_000, random: 0.5)
        let shortened = state.reachable(now: 2_000_000_000)
        #expect(first == 1_000_000_000)
        #expect(second == 3_000_000_000)
        #expect(!shortened)
        state.settled()
        #expect(state.settleFailures == 0)
        var quick = BackoffPolicy()
        quick.initial = .milliseconds(100)
        var lab = UplinkConnectionState(policy: quick)
        let floor = lab.settleFailed(reason: "disk full", now: 0, random: 0)
        #expect(floor == 1_000_000_000, "a full disk is retried once a second at most, whatever initial_backoff says")
    }

    @Test("state reports: an outage and its end at once; a flapping uplink's changes held and counted")
    func stateReports() {
        var reports = StateReports(interval: .seconds(60))
        let down = UplinkConnectionState.Transition(from: .up, to: .backingOff, reason: "503")
        let up = UplinkConnectionState.Transition(from: .backingOff, to: .up, reason: "delivering")
        let second: Int64 = 1_000_000_000
        #expect(reports.changed(down, now: 0)?.to == .backingOff)
        #expect(reports.changed(up, now: 1 * second)?.to == .up)
        #expect(reports.changed(down, now: 2 * second) == nil)
        #expect(reports.changed(up, now: 3 * second) == nil)
        #expect(reports.changed(down, now: 4 * second) == nil)
        #expect(reports.dueIn(now: 4 * second) == .seconds(56))
        #expect(reports.due(now: 59 * second) == nil)
        let held = reports.due(now: 60 * second)
        #expect(held?.to == .backingOff)
        #expect(held?.changesHeldBack == 3)
        #expect(reports.dueIn(now: 60 * second) == nil)
    }

    @Test("the backlog token bucket paces at drain_rate")
    func tokenBucket() {
        var bucket = TokenBucket(rate: 2)
        var available = bucket.hasToken(now: 0)
        #expect(available)
        bucket.take(now: 0)
        bucket.take(now: 0)
        available = bucket.hasToken(now: 0)
        #expect(!available)
        available = bucket.hasToken(now: 400_000_000)
        #expect(!available)
        available = bucket.hasToken(now: 500_000_000)
        #expect(available)
    }
}

@Suite("Wake signal")
struct WakeSignalTests {
    @Test("a signal sent before the wait is not lost; a wait without a signal ends at its timeout")
    func signals() async throws {
        let signal = WakeSignal()
        signal.signal()
        await signal.wait(upTo: .seconds(3600), clock: ContinuousClock())  // returns at once
        let clock = ManualClock()
        let waiter = Task { await signal.wait(upTo: .seconds(5), clock: clock) }
        try await clock.waitForSleepers(1)
        clock.advance(by: .seconds(5))
        await waiter.value
        let woken = Task { await signal.wait(upTo: .seconds(3600), clock: clock) }
        try await clock.waitForSleepers(1)
        signal.signal()
        await woken.value
    }
}
