#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import Synchronization

/// Runs blocking work (file reads that take 750 ms on 1-Wire, child processes, SQLite, curl) off the cooperative pool.
///
/// Swift's cooperative pool has one thread per core (two to four on a Pi); a blocked read there stalls every
/// task. Two kinds:
/// - `BlockingExecutor(label:)` is a serial queue of its own, which Dispatch backs with a thread outside that pool:
///   for work that must be mutually exclusive across callers (the spool) or may block for seconds (HTTP).
/// - `BlockingExecutor.pooled` shares `BlockingPool.threadCount` threads among all periodic inputs, so 2,000 file
///   inputs cost two threads, not one each. Callers that await each run (every polled input does) are still serial,
///   since a run's effects happen before its `await` returns.
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

/// A fixed number of threads of our own (pthreads, named `outpost-io`) that take runs in order from one queue. A
/// run that blocks (a 750 ms 1-Wire read) holds one thread while the others go on with the next runs.
///
/// Not Dispatch queues: on Linux, Dispatch starts another thread whenever its threads are busy, and a few hundred
/// inputs grew the process to two dozen threads. These stay at `threadCount` whatever the load.
package final class BlockingPool: Sendable {
    /// Two threads: reads are short and most sensors poll once a second or slower; a second thread keeps one slow
    /// sensor from delaying the others.
    package static let threadCount = 2
    static let shared = BlockingPool(threads: threadCount)

    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var next = 0
        var running = 0
    }

    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)

    init(threads count: Int) {
        for index in 0..<count { WorkerThread.start(name: "outpost-io-\(index)") { [self] in work() } }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            state.withLock { $0.jobs.append { continuation.resume(returning: body()) } }
            available.signal()
        }
    }

    /// Runs queued or running, for tests.
    var busy: Int { state.withLock { $0.jobs.count - $0.next + $0.running } }

    private func work() -> Never {
        while true {
            available.wait()
            let job = state.withLock { state -> (@Sendable () -> Void) in
                defer {
                    state.next += 1
                    state.running += 1
                    // Compact now and then, so the queue's storage does not grow for ever.
                    if state.next > 1024, state.next * 2 > state.jobs.count {
                        state.jobs.removeFirst(state.next)
                        state.next = 0
                    }
                }
                return state.jobs[state.next]
            }
            job()
            state.withLock { $0.running -= 1 }
        }
    }
}

/// Starts a detached pthread running `body`, named for `top` and `/proc/PID/task/*/comm` (at most 15 bytes).
package enum WorkerThread {
    fileprivate final class Body: Sendable {
        let run: @Sendable () -> Void
        let name: String

        init(_ run: @escaping @Sendable () -> Void, name: String) {
            self.run = run
            self.name = name
        }
    }

    package static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Body(body, name: name)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, workerThreadMain, context)
        precondition(created == 0, "cannot start the thread \(name): error \(created)")
        pthread_detach(thread)
    }

    /// Through `/proc/thread-self/comm`: `pthread_setname_np` is not visible to Swift without `_GNU_SOURCE`.
    fileprivate static func nameThisThread(_ name: String) {
        let descriptor = open("/proc/thread-self/comm", O_WRONLY)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}

/// The C start routine of a worker thread: takes back the retained body and runs it.
private func workerThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let body = Unmanaged<WorkerThread.Body>.fromOpaque(context!).takeRetainedValue()
    WorkerThread.nameThisThread(body.name)
    body.run()
    return nil
}
