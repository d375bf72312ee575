import Dispatch
import Synchronization
import Testing

@testable import OutpostCore

@Suite("Blocking executor")
struct BlockingExecutorTests {
    @Test("a read blocked on one lane of the pool does not hold back reads on the others")
    func blockedLaneDoesNotStallOthers() async {
        let pool = BlockingPool(lanes: 2)
        let release = DispatchSemaphore(value: 0)
        let blocked = Task { await pool.run { release.wait(); return "slow" } }
        await waitUntil { pool.waitingRuns == [1, 0] }
        let quick = await pool.run { "quick" }
        #expect(quick == "quick")
        #expect(pool.waitingRuns == [1, 0])
        release.signal()
        #expect(await blocked.value == "slow")
        #expect(pool.waitingRuns == [0, 0])
    }

    @Test("runs spread over the least busy lanes, so many inputs share a few threads")
    func runsSpreadOverLanes() async {
        let pool = BlockingPool(lanes: 4)
        let release = DispatchSemaphore(value: 0)
        let runs = (0..<8).map { index in Task { await pool.run { release.wait(); return index } } }
        await waitUntil { pool.waitingRuns.reduce(0, +) == 8 }
        #expect(pool.waitingRuns == [2, 2, 2, 2])
        for _ in runs { release.signal() }
        var finished: [Int] = []
        for run in runs { finished.append(await run.value) }
        #expect(finished == Array(0..<8))
        #expect(pool.waitingRuns == [0, 0, 0, 0])
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
        let state = Mutex((now: 0, most: 0))
    }

    /// Waits for a condition another thread makes true, yielding between looks (no fixed sleep), up to 10 s.
    private func waitUntil(_ condition: () -> Bool) async {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10))
        while !condition() && clock.now < deadline { await Task.yield() }
        #expect(condition())
    }
}
