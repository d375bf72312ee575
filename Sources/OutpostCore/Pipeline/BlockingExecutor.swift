import Dispatch
import Synchronization

/// Runs blocking work (file reads that take 750 ms on 1-Wire, child processes, SQLite, curl) off the cooperative pool.
///
/// Swift's cooperative pool has one thread per core (two to four on a Pi); a blocked read there stalls every
/// task. Two kinds:
/// - `BlockingExecutor(label:)` is a serial queue of its own, which Dispatch backs with a thread outside that pool:
///   for work that must be mutually exclusive across callers (the spool) or may block for seconds (HTTP).
/// - `BlockingExecutor.pooled` shares a few threads among all periodic inputs: each run goes to the least busy of
///   `BlockingPool.laneCount` lanes, so 2,000 file inputs cost four threads, not one each. Callers that await each
///   run (every polled input does) are still serial, since a run's effects happen before its `await` returns.
package struct BlockingExecutor: Sendable {
    private enum Backing: Sendable {
        case dedicated(DispatchQueue)
        case pool(BlockingPool)
    }

    private let backing: Backing

    package init(label: String) {
        backing = .dedicated(DispatchQueue(label: "outpost.blocking.\(label)"))
    }

    /// The executor of short, independent reads: the process-wide pool.
    package static let pooled = BlockingExecutor(pool: BlockingPool.shared)

    init(pool: BlockingPool) {
        backing = .pool(pool)
    }

    package func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        switch backing {
        case .dedicated(let queue):
            await withCheckedContinuation { continuation in
                queue.async { continuation.resume(returning: body()) }
            }
        case .pool(let pool):
            await pool.run(body)
        }
    }
}

/// A fixed number of serial lanes (each at most one thread); work goes to the lane with the fewest runs waiting,
/// so one slow sensor delays only what queues behind it while the other lanes go on.
final class BlockingPool: Sendable {
    /// Four lanes: a Pi has four cores at most, and reads that block (1-Wire) are rare and usually slow-polled.
    static let laneCount = 4
    static let shared = BlockingPool(lanes: laneCount)

    private let lanes: [DispatchQueue]
    private let waiting: Mutex<[Int]>

    init(lanes count: Int) {
        lanes = (0..<count).map { DispatchQueue(label: "outpost.blocking.pool.\($0)") }
        waiting = Mutex(Array(repeating: 0, count: count))
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        let lane = waiting.withLock { counts in
            let lane = counts.indices.min { counts[$0] < counts[$1] } ?? 0
            counts[lane] += 1
            return lane
        }
        return await withCheckedContinuation { continuation in
            lanes[lane].async {
                let result = body()
                self.waiting.withLock { $0[lane] -= 1 }
                continuation.resume(returning: result)
            }
        }
    }

    /// Runs waiting per lane, for tests.
    var waitingRuns: [Int] { waiting.withLock { $0 } }
}
