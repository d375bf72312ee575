import Dispatch
import OutpostTestSupport
import Synchronization
import Testing

@testable import OutpostCore

@Suite("Blocking executor")
struct BlockingExecutorTests {
    @Test("a read blocked on one thread of the pool does not hold back reads on the other")
    func blockedThreadDoesNotStallOthers() async {
        let pool = BlockingPool(threads: 2)
        let release = DispatchSemaphore(value: 0)
        let blocked = Task { await pool.run { release.wait(); return "slow" } }
        await waitUntil { pool.busy == 1 }
        let quick = await pool.run { "quick" }
        #expect(quick == "quick")
        #expect(pool.busy == 1)
        release.signal()
        #expect(await blocked.value == "slow")
        await waitUntil { pool.busy == 0 }
        #expect(pool.busy == 0)
    }

    @Test("a finished run keeps nothing it captured: what a poll read is freed when its run ends, not queued on")
    func finishedRunsAreReleased() async {
        final class Payload: Sendable {}
        let pool = BlockingPool(threads: 1, name: "test-release")
        weak var released: Payload?
        do {
            let payload = Payload()
            released = payload
            let outcome = await pool.run(watched: { _ in withExtendedLifetime(payload) { 1 } })
            guard case .finished(1) = outcome else { Issue.record("\(outcome)"); return }
            _ = await pool.run { withExtendedLifetime(payload) { 2 } }
        }
        // The worker drops its last reference when its loop turns; a queue that kept taken runs never does.
        await waitUntil { released == nil }
    }

    @Test("many runs share the pool's fixed threads: all finish, and no more run at once than there are threads")
    func runsShareFixedThreads() async {
        let pool = BlockingPool(threads: 2)
        let inside = Occupancy()
        // The first two runs wait for each other (up to 10 s), so both threads are seen busy at once, no sleep.
        let bothInside = DispatchSemaphore(value: 0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    await pool.run {
                        let arrived = inside.state.withLock { state -> Int in
                            state.now += 1
                            state.most = max(state.most, state.now)
                            state.arrivals += 1
                            return state.arrivals
                        }
                        if arrived == 1 { _ = bothInside.wait(timeout: .now() + 10) }
                        if arrived == 2 { bothInside.signal() }
                        inside.state.withLock { $0.now -= 1 }
                    }
                }
            }
        }
        #expect(inside.state.withLock { $0.most } == 2)
    }

    @Test("a dedicated executor keeps its runs mutually exclusive when callers do not wait for each other")
    func dedicatedIsSerial() async {
        let executor = BlockingExecutor(label: "test.serial")
        let inside = Occupancy()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    await executor.run {
                        inside.state.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                        inside.state.withLock { $0.now -= 1 }
                    }
                }
            }
        }
        #expect(inside.state.withLock { $0.most } == 1)
    }

    @Test("a watched call that never returns is given up on at its deadline; a new thread keeps the pool serving")
    func overrunIsLeftBehind() async {
        let pool = BlockingPool(threads: 1, name: "test-io")
        let release = DispatchSemaphore(value: 0)
        let outcome = await pool.run(watched: { watch -> String in
            guard watch.begin("reading /sys/hung", within: .milliseconds(200)) else { return "not started" }
            defer { watch.end() }
            release.wait()
            return "returned"
        })
        guard case .overran(let call, let limit) = outcome else {
            Issue.record("expected an overrun, got \(outcome)")
            return
        }
        #expect(call == "reading /sys/hung")
        #expect(limit == .milliseconds(200))
        #expect(pool.threadsLeftBehind == 1)
        // The pool's only original thread is stuck; its replacement serves the next run.
        #expect(await pool.run { "quick" } == "quick")
        release.signal()
        await waitUntil { pool.threadsLeftBehind == 0 }
        #expect(await pool.run { "after" } == "after")
    }

    @Test("a watched run stops making calls once given up on, and a cancelled caller does not wait for its call")
    func cancelledCallerDoesNotWait() async {
        let pool = BlockingPool(threads: 1, name: "test-io")
        let release = DispatchSemaphore(value: 0)
        let calls = Mutex(0)
        let task = Task {
            await pool.run(watched: { watch -> Int in
                for _ in 0..<3 {
                    guard watch.begin("a call", within: .seconds(60)) else { break }
                    calls.withLock { $0 += 1 }
                    release.wait()
                    watch.end()
                }
                return calls.withLock { $0 }
            })
        }
        await waitUntil { calls.withLock { $0 } == 1 }
        task.cancel()
        guard case .cancelled = await task.value else {
            Issue.record("a cancelled caller is answered at once")
            return
        }
        release.signal()
        await waitUntil { pool.busy == 0 }
        #expect(calls.withLock { $0 } == 1, "no call after the run was given up on")
    }

    private final class Occupancy: Sendable {
        let state = Mutex((now: 0, most: 0, arrivals: 0))
    }

    /// Waits for a condition another thread makes true (`waitTurn` between looks, no fixed sleep), up to 120 s.
    private func waitUntil(_ condition: () -> Bool) async {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(120))
        var turn = 0
        while !condition() && clock.now < deadline { await waitTurn(&turn) }
        #expect(condition())
    }
}
