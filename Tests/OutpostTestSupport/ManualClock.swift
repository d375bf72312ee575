import OutpostCore
import Synchronization

/// A clock that only moves when a test says so; sleepers wake when `advance` passes their deadline.
public final class ManualClock: Clock, Sendable {
    public struct Instant: InstantProtocol, Hashable {
        public var offset: Duration

        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        let id: Int
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [Sleeper] = []
        var nextID = 0
        var sleepCalls = 0
        /// Sleepers cancelled before they were registered (the cancellation handler can run first).
        var cancelledEarly: Set<Int> = []
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }

    /// How many tasks are asleep on this clock right now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    public func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Bool, CancellationError> in
                    state.sleepCalls += 1
                    if state.cancelledEarly.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(true) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return .success(false)
                }
                switch outcome {
                case .failure(let error): continuation.resume(throwing: error)
                case .success(true): continuation.resume()
                case .success(false): break
                }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else {
                    state.cancelledEarly.insert(id)
                    return nil
                }
                return state.sleepers.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Waits (yielding, then a millisecond at a time) until at least `count` tasks are asleep on this clock.
    public func waitForSleepers(_ count: Int, timeout: Duration = .seconds(120)) async throws {
        let start = ContinuousClock.now
        var turn = 0
        while sleeperCount < count {
            guard ContinuousClock.now - start < timeout else {
                throw TimeoutError(what: "\(count) sleepers (have \(sleeperCount))")
            }
            await waitTurn(&turn)
        }
    }
}

/// A wall clock a test sets by hand.
public final class ManualWallClock: WallClock {
    private let nanos: Mutex<Int64>

    public init(start: Int64 = 1_767_225_600 * 1_000_000_000) {
        nanos = Mutex(start)
    }

    public func nowNanos() -> Int64 { nanos.withLock { $0 } }

    public func advance(by duration: Duration) {
        nanos.withLock { $0 += UnixNanos.from(duration) }
    }
}

public struct TimeoutError: Error, CustomStringConvertible {
    public let what: String

    public init(what: String) {
        self.what = what
    }

    public var description: String { "timed out waiting for \(what)" }
}

/// Waits (`waitTurn`) until `condition` holds, failing after a generous timeout instead of hanging a run.
public func waitUntil(_ what: String, timeout: Duration = .seconds(120), _ condition: () -> Bool) async throws {
    let start = ContinuousClock.now
    var turn = 0
    while !condition() {
        guard ContinuousClock.now - start < timeout else { throw TimeoutError(what: what) }
        await waitTurn(&turn)
    }
}

/// One turn of a wait loop: at first a yield (what is awaited is usually one task hop away), then a millisecond of
/// real time per turn. Waiters that only yielded spun both cores of a loaded run away from the very threads they
/// waited for (a command's, a reader's, the broker's), and timed out.
public func waitTurn(_ turn: inout Int) async {
    turn += 1
    if turn <= 100 {
        await Task.yield()
    } else {
        try? await Task.sleep(for: .milliseconds(1))
    }
}

/// Checks `condition` every 20 ms of real time until it holds, failing after a generous timeout: for waiting on
/// another process (a child `outpost`, a broker), where no in-process event exists to await.
public func poll(_ what: String, timeout: Duration = .seconds(120), _ condition: () throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while try !condition() {
        guard clock.now < deadline else { throw TimeoutError(what: what) }
        try await clock.sleep(for: .milliseconds(20))
    }
}
