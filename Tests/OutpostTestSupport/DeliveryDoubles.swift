import OutpostCore
import OutpostDelivery
import OutpostSpool
import Synchronization

/// A spool stand-in whose bookkeeping can fail: marking a batch delivered throws (a full disk under SQLite's WAL),
/// or silently does nothing (a spool that logs the failure and carries on).
package final class ScriptedQueue: DeliveryQueue {
    package enum MarkFailure { case none, throwing, silent }

    private struct State {
        var batches: [SpooledBatch] = []
        var failingMarks = 0
        var marks = 0
        var offered = 0
    }

    private let state = Mutex(State())
    private let failure: MarkFailure

    /// `batches` batches made by `make` (by index; default: opaque metrics payloads, which no scripted uplink reads).
    package init(batches: Int, failingMarks: Int = 0, failure: MarkFailure = .none,
                 make: (Int) throws -> Batch = { _ in storeBatch(.metrics, size: 16) }) throws {
        self.failure = failure
        let made = try (0..<batches).map { index in
            SpooledBatch(sequence: Int64(index + 1), batch: try make(index), attempts: 0)
        }
        state.withLock {
            $0.batches = made
            $0.failingMarks = failingMarks
        }
    }

    package var marks: Int { state.withLock { $0.marks } }
    package var remaining: Int { state.withLock { $0.batches.count } }

    package func nextBatch(for uplink: String, now: Int64, liveSince: Int64, includeBacklog: Bool) async -> SpooledBatch? {
        state.withLock { state in
            state.offered += 1
            return state.batches.first
        }
    }

    package struct DiskFull: Error, CustomStringConvertible {
        package var description: String { "database or disk is full" }
    }

    package func markDelivered(_ sequence: Int64, by uplink: String) async throws {
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

    package func markDeferred(_ sequence: Int64, by uplink: String, until nextAttempt: Int64, error: String) async throws {}

    package func markRejected(_ sequence: Int64, by uplink: String) async throws {
        state.withLock { $0.batches.removeAll { $0.sequence == sequence } }
    }
}

/// An uplink that answers from a script (by attempt number) and can say its connection came back.
package final class ScriptedUplink: ReconnectNotifying {
    package let name = "scripted"
    package let accepts = Signal.otlp
    private let answer: @Sendable (Int) -> DeliveryResult
    private let sent = Atomic<Int>(0)
    private let handler = Mutex<(@Sendable () -> Void)?>(nil)

    package init(_ answer: @escaping @Sendable (Int) -> DeliveryResult) {
        self.answer = answer
    }

    package var sends: Int { sent.load(ordering: .acquiring) }

    package func deliver(_ batch: Batch) async -> DeliveryResult {
        let attempt = sent.add(1, ordering: .acquiringAndReleasing).newValue
        return answer(attempt)
    }

    package func onReconnect(_ handler: @escaping @Sendable () -> Void) {
        self.handler.withLock { $0 = handler }
    }

    package func reconnect() {
        handler.withLock { $0 }?()
    }
}

/// A running delivery loop on a manual clock, and what it reported.
package struct LoopHarness {
    package let clock = ManualClock()
    package let wall = ManualWallClock()
    package let loop: DeliveryLoop
    package let task: Task<Void, Never>
    package let transitions: Transitions

    package final class Transitions: Sendable {
        private let items = Mutex<[UplinkConnectionState.Transition]>([])
        package var all: [UplinkConnectionState.Transition] { items.withLock { $0 } }
        package func append(_ item: UplinkConnectionState.Transition) { items.withLock { $0.append(item) } }
    }

    package init(uplink: any Uplink, queue: ScriptedQueue, backoff: BackoffPolicy = BackoffPolicy()) {
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
    package func advance(by duration: Duration) async throws {
        try await clock.waitForSleepers(1)
        wall.advance(by: duration)
        clock.advance(by: duration)
    }

    package func stop() async {
        task.cancel()
        await task.value
    }
}
