import Dispatch
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

    private final class Occupancy: Sendable {
        let state = Mutex((now: 0, most: 0, arrivals: 0))
    }

    /// Waits for a condition another thread makes true, yielding between looks (no fixed sleep), up to 10 s.
    private func waitUntil(_ condition: () -> Bool) async {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10))
        while !condition() && clock.now < deadline { await Task.yield() }
        #expect(condition())
    }
}
