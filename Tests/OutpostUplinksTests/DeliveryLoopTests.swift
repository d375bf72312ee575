import OutpostCore
import OutpostMQTT
import OutpostTestSupport
import Synchronization
import Testing
@testable import OutpostDelivery
@testable import OutpostSpool
@testable import OutpostUplinks

/// A spool stand-in whose bookkeeping can fail: marking a batch delivered throws (a full disk under SQLite's WAL),
/// or silently does nothing (a spool that logs the failure and carries on).
final class ScriptedQueue: DeliveryQueue {
    enum MarkFailure { case none, throwing, silent }

    private struct State {
        var batches: [SpooledBatch] = []
        var failingMarks = 0
        var marks = 0
        var offered = 0
    }

    private let state = Mutex(State())
    private let failure: MarkFailure

    init(batches: Int, failingMarks: Int = 0, failure: MarkFailure = .none) throws {
        self.failure = failure
        let made = try (0..<batches).map { index in
            SpooledBatch(sequence: Int64(index + 1), batch: try metricsBatch([Double(index)]), attempts: 0)
        }
        state.withLock {
            $0.batches = made
            $0.failingMarks = failingMarks
        }
    }

    var marks: Int { state.withLock { $0.marks } }
    var remaining: Int { state.withLock { $0.batches.count } }

    func nextBatch(for uplink: String, now: Int64, liveSince: Int64, includeBacklog: Bool) async -> SpooledBatch? {
        state.withLock { state in
            state.offered += 1
            return state.batches.first
        }
    }

    struct DiskFull: Error, CustomStringConvertible {
        var description: String { "database or disk is full" }
    }

    func markDelivered(_ sequence: Int64, by uplink: String) async throws {
        let fails = state.withLock { state -> Bool in
            state.marks += 1
            guard state.failingMarks == 0 else {
                state.failingMarks -= 1
                return true
            }
            state.batches.removeAll { $0.sequence == sequence }
            return false
        }
        if fails, failure == .throwing { throw DiskFull() }
    }

    func markDeferred(_ sequence: Int64, by uplink: String, until nextAttempt: Int64, error: String) async throws {}

    func markRejected(_ sequence: Int64, by uplink: String) async throws {
        state.withLock { $0.batches.removeAll { $0.sequence == sequence } }
    }
}

/// An uplink that answers from a script (by attempt number) and can say its connection came back.
final class ScriptedUplink: ReconnectNotifying {
    let name = "scripted"
    let accepts = Signal.otlp
    private let answer: @Sendable (Int) -> DeliveryResult
    private let sent = Atomic<Int>(0)
    private let handler = Mutex<(@Sendable () -> Void)?>(nil)

    init(_ answer: @escaping @Sendable (Int) -> DeliveryResult) {
        self.answer = answer
    }

    var sends: Int { sent.load(ordering: .acquiring) }

    func deliver(_ batch: Batch) async -> DeliveryResult {
        let attempt = sent.add(1, ordering: .acquiringAndReleasing).newValue
        return answer(attempt)
    }

    func onReconnect(_ handler: @escaping @Sendable () -> Void) {
        self.handler.withLock { $0 = handler }
    }

    func reconnect() {
        handler.withLock { $0 }?()
    }
}

/// A running delivery loop on a manual clock, and what it reported.
struct LoopHarness {
    let clock = ManualClock()
    let wall = ManualWallClock()
    let loop: DeliveryLoop
    let task: Task<Void, Never>
    let transitions: Transitions

    final class Transitions: Sendable {
        private let items = Mutex<[UplinkConnectionState.Transition]>([])
        var all: [UplinkConnectionState.Transition] { items.withLock { $0 } }
        func append(_ item: UplinkConnectionState.Transition) { items.withLock { $0.append(item) } }
    }

    init(uplink: any Uplink, queue: ScriptedQueue, backoff: BackoffPolicy = BackoffPolicy()) {
        var settings = DeliverySettings()
        settings.backoff = backoff
        let transitions = Transitions()
        loop = DeliveryLoop(uplink: uplink, endpoint: "test", kind: "test", queue: queue, signal: WakeSignal(),
                            settings: settings, clock: clock, wallClock: wall) { report in
            if case .transition(let transition) = report { transitions.append(transition) }
        }
        self.transitions = transitions
        let loop = self.loop
        task = Task { await loop.run() }
    }

    /// Moves both clocks on once the loop is asleep (waiting out a backoff or idle).
    func advance(by duration: Duration) async throws {
        try await clock.waitForSleepers(1)
        wall.advance(by: duration)
        clock.advance(by: duration)
    }

    func stop() async {
        task.cancel()
        await task.value
    }
}

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

@Suite("Delivery loop and a real mosquitto broker", .serialized)
struct DeliveryLoopReconnectTests {
    @Test("the shared MQTT client reconnects: a backing-off MQTT uplink delivers at once, not when its backoff ends")
    func mqttReconnectEndsBackoff() async throws {
        let port = freeLoopbackPort()
        var broker = try MosquittoBroker(port: port)
        let client = try MQTTClient(broker: MQTTBroker(host: "127.0.0.1", port: port, clientID: "wake-test"))
        client.start()
        defer { client.stop() }
        for await event in client.events {
            if case .connected = event { break }
        }
        broker.stop()
        for await event in client.events {
            if case .disconnected = event { break }
        }
        let queue = try ScriptedQueue(batches: 1)
        let uplink = MQTTUplink(name: "mqtt", client: client, metricsTopic: "outpost/gw/metrics",
                                eventsTopic: "outpost/gw/events", maxPacketSize: nil, gzipLevel: 6)
        let harness = LoopHarness(uplink: uplink, queue: queue)
        // Three failed attempts (not connected): the next one is at least 4 s of the loop's clock away, and that
        // clock is not moved again.
        for wait in [1200, 2400, 1000] { try await harness.advance(by: .milliseconds(wait)) }
        try await harness.clock.waitForSleepers(1)
        #expect(queue.remaining == 1)
        broker = try MosquittoBroker(port: port)
        // Marked delivered only on the broker's PUBACK.
        try await waitUntil("the batch is published after the reconnect", timeout: .seconds(60)) {
            queue.remaining == 0
        }
        _ = broker
        await harness.stop()
    }
}

@Suite("Delivery loop and a real OTLP/HTTP receiver", .serialized)
struct DeliveryLoopReceiverTests {
    @Test("503 with Retry-After: 0, three times: retried after about 1, 2 and 4 s, delivered once on the fourth try")
    func retryAfterZeroEndToEnd() async throws {
        let server = try OTLPServer()
        let busy: [String: Any] = ["status": 503, "headers": ["Retry-After": "0"]]
        try server.script([busy, busy, busy])
        let queue = try ScriptedQueue(batches: 1)
        let harness = LoopHarness(uplink: uplink(server.endpoint), queue: queue)
        for _ in 0..<60 { try await harness.advance(by: .milliseconds(100)) }
        try await harness.clock.waitForSleepers(1)
        #expect(queue.remaining == 1, "6 s in: the 1 + 2 s waits are over, the 4 s one is not")
        for _ in 0..<40 { try await harness.advance(by: .milliseconds(100)) }
        try await waitUntil("delivered") { queue.remaining == 0 }
        #expect(try server.received().count == 1)
        await harness.stop()
    }
}
