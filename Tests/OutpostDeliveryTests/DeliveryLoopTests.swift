import OutpostCore
import OutpostTestSupport
import Synchronization
import Testing
@testable import OutpostDelivery
@testable import OutpostSpool

@Suite("Delivery loop: no hot loops, monotonic waits, recovery on reconnect (no sockets)", .serialized)
struct DeliveryLoopTests {
    @Test("a batch the spool cannot mark delivered (disk full: an error) is not re-sent; the mark backs off 1, 2, 4 s")
    func failedSettleBacksOff() async throws {
        let queue = try ScriptedQueue(batches: 1, failingMarks: 3, failure: .throwing)
        let uplink = ScriptedUplink { _ in .delivered }
        let harness = LoopHarness(uplink: uplink, queue: queue)
        try await harness.clock.waitForSleepers(1)
        #expect(uplink.sends == 1)
        #expect(queue.marks == 1)
        try await harness.advance(by: .milliseconds(900))
        #expect(queue.marks == 1, "no retry within the 1 s floor")
        try await harness.advance(by: .milliseconds(300))
        try await harness.clock.waitForSleepers(1)
        #expect(queue.marks == 2)
        try await harness.advance(by: .milliseconds(1900))
        #expect(queue.marks == 2, "the second wait is at least 2 s")
        try await harness.advance(by: .milliseconds(600))
        try await harness.clock.waitForSleepers(1)
        #expect(queue.marks == 3)
        try await harness.advance(by: .milliseconds(4800))
        try await waitUntil("the mark takes") { queue.remaining == 0 }
        #expect(queue.marks == 4)
        #expect(uplink.sends == 1, "the receiver got the batch once")
        await harness.stop()
    }

    @Test("a spool that fails to mark silently (offers the batch again) is caught: backoff, no re-send")
    func silentSettleFailure() async throws {
        let queue = try ScriptedQueue(batches: 1, failingMarks: 2, failure: .silent)
        let uplink = ScriptedUplink { _ in .delivered }
        let harness = LoopHarness(uplink: uplink, queue: queue)
        try await harness.clock.waitForSleepers(1)
        #expect(queue.marks == 1)
        for _ in 0..<10 { try await harness.advance(by: .milliseconds(500)) }
        try await waitUntil("the mark takes") { queue.remaining == 0 }
        #expect(queue.marks == 3)
        #expect(uplink.sends == 1)
        await harness.stop()
    }

    @Test("Retry-After: 0 (or a date in the past) on every answer: about 4 attempts in 10 s, not thousands")
    func retryAfterZero() async throws {
        let queue = try ScriptedQueue(batches: 1)
        let uplink = ScriptedUplink { _ in .retry(after: .zero, reason: "HTTP 503") }
        let harness = LoopHarness(uplink: uplink, queue: queue)
        for _ in 0..<100 { try await harness.advance(by: .milliseconds(100)) }
        try await harness.clock.waitForSleepers(1)
        #expect((3...5).contains(uplink.sends), "\(uplink.sends) attempts")
        #expect(harness.transitions.all.count == 1, "one state report for the whole outage")
        await harness.stop()
    }

    @Test("a Retry-After of thousands of years waits max_retry_after, and does not trap")
    func hugeRetryAfter() async throws {
        let queue = try ScriptedQueue(batches: 1)
        let uplink = ScriptedUplink { $0 == 1 ? .retry(after: .seconds(Int64.max), reason: "HTTP 503") : .delivered }
        var policy = BackoffPolicy()
        policy.maximumRetryAfter = .seconds(60)
        let harness = LoopHarness(uplink: uplink, queue: queue, backoff: policy)
        try await harness.advance(by: .seconds(59))
        #expect(uplink.sends == 1)
        try await harness.advance(by: .seconds(1))
        try await waitUntil("the retry") { uplink.sends == 2 }
        await harness.stop()
    }

    @Test("the wall clock stepped back an hour during a backoff: the retry still comes after the backoff")
    func wallClockStepBack() async throws {
        let queue = try ScriptedQueue(batches: 1)
        let uplink = ScriptedUplink { $0 <= 2 ? .retry(after: nil, reason: "HTTP 503") : .delivered }
        let harness = LoopHarness(uplink: uplink, queue: queue)
        try await harness.clock.waitForSleepers(1)
        harness.wall.advance(by: .seconds(-3600))
        try await harness.advance(by: .milliseconds(1200))
        try await harness.clock.waitForSleepers(1)
        #expect(uplink.sends == 2)
        harness.wall.advance(by: .seconds(-3600))
        try await harness.advance(by: .milliseconds(2400))
        try await waitUntil("delivered") { queue.remaining == 0 }
        #expect(uplink.sends == 3)
        #expect(harness.transitions.all.map(\.to) == [.backingOff, .up])
        #expect(harness.transitions.all.last?.failedAttempts == 2, "the recovery report counts the failures")
        await harness.stop()
    }

    @Test("a receiver failing every other request: two state reports (down, up), not one per change")
    func flappingReceiver() async throws {
        let queue = try ScriptedQueue(batches: 12)
        let uplink = ScriptedUplink { $0 % 2 == 1 ? .retry(after: nil, reason: "HTTP 503") : .delivered }
        let harness = LoopHarness(uplink: uplink, queue: queue)
        for _ in 0..<300 { try await harness.advance(by: .milliseconds(100)) }
        try await harness.clock.waitForSleepers(1)
        #expect(queue.remaining == 0)
        #expect(uplink.sends == 24)
        #expect(harness.transitions.all.map(\.to) == [.backingOff, .up], "24 changes, 2 reports")
        await harness.stop()
    }

    @Test("when the connection comes back, a waiting uplink tries at once instead of sleeping out its backoff")
    func reconnectEndsBackoff() async throws {
        let queue = try ScriptedQueue(batches: 1)
        let down = Atomic<Bool>(true)
        let uplink = ScriptedUplink { _ in
            down.load(ordering: .acquiring) ? .retry(after: nil, reason: "not connected") : .delivered
        }
        let harness = LoopHarness(uplink: uplink, queue: queue)
        // Four failures: the next wait is 8 s or more.
        for wait in [1200, 2400, 4800] { try await harness.advance(by: .milliseconds(wait)) }
        try await harness.clock.waitForSleepers(1)
        #expect(uplink.sends == 4)
        try await harness.advance(by: .seconds(2))
        down.store(false, ordering: .releasing)
        harness.reconnect(uplink)
        try await waitUntil("delivered after the reconnect") { queue.remaining == 0 }
        #expect(uplink.sends == 5)
        await harness.stop()
    }

    @Test("a reconnect right after an attempt still waits out the 1 s floor: a flapping link cannot make it spin")
    func reconnectRespectsFloor() async throws {
        let queue = try ScriptedQueue(batches: 1)
        let uplink = ScriptedUplink { _ in .retry(after: .seconds(300), reason: "not connected") }
        let harness = LoopHarness(uplink: uplink, queue: queue)
        try await harness.clock.waitForSleepers(1)
        for _ in 0..<20 { harness.reconnect(uplink) }
        try await harness.advance(by: .milliseconds(500))
        #expect(uplink.sends == 1)
        try await harness.advance(by: .milliseconds(500))
        try await waitUntil("one retry after the floor") { uplink.sends == 2 }
        try await harness.advance(by: .seconds(10))
        #expect(uplink.sends == 2, "and then the backoff again")
        await harness.stop()
    }
}

extension LoopHarness {
    func reconnect(_ uplink: ScriptedUplink) { uplink.reconnect() }
}
