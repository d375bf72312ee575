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
///
/// A run may also be *watched* (`run(watched:)`): it announces each external call it makes (a sysfs read, a Modbus
/// request) with a deadline, and a watchdog thread gives up on the run when a call overruns it. The caller is
/// resumed at once with `.overran`, a new thread takes the stuck one's place (so the pool keeps its capacity), and the
/// stuck thread ends when the kernel finally lets its call return. A read in uninterruptible sleep (a hung I2C or
/// 1-Wire bus, a dead NFS mount) can never be cancelled; it can only be left behind.
package final class BlockingPool: Sendable {
    /// Two threads: reads are short and most sensors poll once a second or slower; a second thread keeps one slow
    /// sensor from delaying the others.
    package static let threadCount = 2
    /// At most this many threads may be left behind in calls that never returned; beyond it, a stuck thread is not
    /// replaced (the pool shrinks rather than grow without bound when a whole bus hangs).
    package static let maximumLeftBehind = 16
    package static let shared = BlockingPool(threads: threadCount)

    /// A queued run; true when the thread that ran it was replaced while it ran and must end.
    private typealias Job = @Sendable () -> Bool

    private struct State {
        /// Queued runs; a taken one is cleared at once, so what its closure captured (a share's readings, its
        /// members) is freed when it ends, not when the queue is next compacted.
        var jobs: [Job?] = []
        var next = 0
        var running = 0
        /// Watched runs in progress.
        var watched: [ObjectIdentifier: WatchedRun] = [:]
        var watchdogStarted = false
        /// Threads given up on, still inside a call.
        var leftBehind = 0
    }

    /// What the watchdog needs of a watched run: its watch, and how to resume its caller when it gives up.
    private struct WatchedRun: Sendable {
        let watch: CallWatch
        let overran: @Sendable (String, Duration) -> Void
    }

    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)
    private let watchdogWake = DispatchSemaphore(value: 0)
    private let name: String

    package init(threads count: Int, name: String = "outpost-io") {
        self.name = name
        for index in 0..<count { WorkerThread.start(name: "\(name)-\(index)") { [self] in work() } }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            enqueue {
                continuation.resume(returning: body())
                return false
            }
        }
    }

    /// Runs `body` on the pool, watching the calls it announces on its `CallWatch`: `.finished` with its value, or
    /// `.overran` as soon as one call outlives its deadline (the body's later calls are not made: `begin` answers
    /// false), or `.cancelled` when the calling task is cancelled (shutdown does not wait for a stuck call).
    package func run<T: Sendable>(watched body: @escaping @Sendable (CallWatch) -> T) async -> WatchedOutcome<T> {
        let watch = CallWatch()
        let caller = ResumeOnce<WatchedOutcome<T>>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                caller.set(continuation)
                let key = ObjectIdentifier(watch)
                let wasIdle = state.withLock { state -> Bool in
                    defer {
                        state.watched[key] = WatchedRun(watch: watch) { call, limit in
                            caller.resume(.overran(call: call, limit: limit))
                        }
                    }
                    return state.watched.isEmpty
                }
                startWatchdog()
                if wasIdle { watchdogWake.signal() }
                enqueue { [self] in
                    let value = body(watch)
                    state.withLock { _ = $0.watched.removeValue(forKey: key) }
                    caller.resume(.finished(value))
                    return watch.wasReplaced
                }
            }
        } onCancel: {
            if watch.giveUp(replacing: false) { caller.resume(.cancelled) }
        }
    }

    /// Runs queued or running, for tests.
    var busy: Int { state.withLock { $0.jobs.count - $0.next + $0.running } }

    /// Threads left behind in calls that never returned, for tests and status.
    package var threadsLeftBehind: Int { state.withLock { $0.leftBehind } }

    private func enqueue(_ job: @escaping Job) {
        state.withLock { $0.jobs.append(job) }
        available.signal()
    }

    private func work() {
        while true {
            available.wait()
            let job = state.withLock { state -> Job in
                defer {
                    state.next += 1
                    state.running += 1
                    // Compact now and then, so the queue's storage does not grow for ever.
                    if state.next > 1024, state.next * 2 > state.jobs.count {
                        state.jobs.removeFirst(state.next)
                        state.next = 0
                    }
                }
                // Signalled once per queued job, so there is one to take.
                let job = state.jobs[state.next]!
                state.jobs[state.next] = nil
                return job
            }
            let replaced = job()
            state.withLock { state in
                state.running -= 1
                if replaced { state.leftBehind -= 1 }
            }
            // Another thread took this one's place while its call hung: end, so the pool keeps its size.
            if replaced { return }
        }
    }

    private func startWatchdog() {
        let first = state.withLock { state -> Bool in
            defer { state.watchdogStarted = true }
            return !state.watchdogStarted
        }
        if first { WorkerThread.start(name: "\(name)-watch") { [self] in watchdog() } }
    }

    /// Sleeps while no watched run is in progress; otherwise wakes at least every `watchdogPeriod` (and at the
    /// earliest deadline) to give up on calls past theirs.
    private func watchdog() {
        while true {
            let now = ContinuousClock.now
            let (overdue, earliest, idle) = state.withLock { state in
                let overdue = state.watched.values.filter { $0.watch.isOverdue(now: now) }
                let earliest = state.watched.values.compactMap(\.watch.deadline).min()
                return (overdue, earliest, state.watched.isEmpty)
            }
            for run in overdue { giveUp(run, now: now) }
            if idle {
                watchdogWake.wait()
                continue
            }
            var wait = Self.watchdogPeriod
            if let earliest { wait = max(.milliseconds(1), min(wait, earliest - now)) }
            _ = watchdogWake.wait(timeout: .now() + .nanoseconds(Int(UnixNanos.from(wait))))
        }
    }

    static let watchdogPeriod: Duration = .milliseconds(250)

    private func giveUp(_ run: WatchedRun, now: ContinuousClock.Instant) {
        let replace = state.withLock { state -> Bool in
            guard state.leftBehind < Self.maximumLeftBehind else { return false }
            state.leftBehind += 1
            return true
        }
        guard let (call, limit) = run.watch.giveUpIfOverdue(now: now, replacing: replace) else {
            if replace { state.withLock { $0.leftBehind -= 1 } }
            return
        }
        state.withLock { _ = $0.watched.removeValue(forKey: ObjectIdentifier(run.watch)) }
        if replace { WorkerThread.start(name: "\(name)-r") { [self] in work() } }
        run.overran(call, limit)
    }
}

/// The outcome of a watched run (`BlockingPool.run(watched:)`).
package enum WatchedOutcome<T: Sendable>: Sendable {
    case finished(T)
    /// The call named `call` did not return within `limit`; the run was given up on and its thread left behind.
    case overran(call: String, limit: Duration)
    /// The calling task was cancelled (shutdown) before the run finished.
    case cancelled
}

/// How a watched run announces its external calls, each with a deadline, so the pool's watchdog can give up on the
/// run when one never returns. A future input that blocks in a C library (libmodbus) uses it the same way:
///
///     guard watch.begin("reading register 30001 of unit 1", within: .seconds(2)) else { return partial }
///     defer { watch.end() }
package final class CallWatch: Sendable {
    private struct State {
        var call: String?
        var limit: Duration = .zero
        var deadline: ContinuousClock.Instant?
        var givenUp = false
        var replaced = false
    }

    private let state = Mutex(State())

    package init() {}

    /// Starts a call that must return within `limit`. False once the run was given up on (an earlier call overran,
    /// or shutdown): make no further calls and return what there is.
    package func begin(_ call: String, within limit: Duration) -> Bool {
        state.withLock { state in
            guard !state.givenUp else { return false }
            state.call = call
            state.limit = limit
            state.deadline = .now + limit
            return true
        }
    }

    /// The call returned.
    package func end() {
        state.withLock { state in
            state.call = nil
            state.deadline = nil
        }
    }

    /// Whether the run was given up on.
    package var isGivenUp: Bool { state.withLock { $0.givenUp } }

    fileprivate var deadline: ContinuousClock.Instant? { state.withLock { $0.deadline } }

    fileprivate var wasReplaced: Bool { state.withLock { $0.replaced } }

    fileprivate func isOverdue(now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            guard !state.givenUp, let deadline = state.deadline else { return false }
            return now >= deadline
        }
    }

    /// Gives up on the run when its current call is past its deadline: the call's name and limit, else nil.
    fileprivate func giveUpIfOverdue(now: ContinuousClock.Instant, replacing: Bool) -> (String, Duration)? {
        state.withLock { state in
            guard !state.givenUp, let deadline = state.deadline, now >= deadline, let call = state.call else {
                return nil
            }
            state.givenUp = true
            state.replaced = replacing
            return (call, state.limit)
        }
    }

    /// Gives up on the run once; true the first time.
    fileprivate func giveUp(replacing: Bool) -> Bool {
        state.withLock { state in
            guard !state.givenUp else { return false }
            state.givenUp = true
            state.replaced = replacing
            return true
        }
    }
}

/// A continuation resumed at most once, by whichever of several parties comes first; a value that arrives before the
/// continuation is stored is handed over when it is.
package final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, Never>?>(nil)
    private let early = Mutex<T?>(nil)

    package init() {}

    package func set(_ continuation: CheckedContinuation<T, Never>) {
        let value = self.continuation.withLock { stored -> T? in
            if let value = early.withLock({ $0.take() }) { return value }
            stored = continuation
            return nil
        }
        if let value { continuation.resume(returning: value) }
    }

    package func resume(_ value: T) {
        let waiting = continuation.withLock { stored -> CheckedContinuation<T, Never>? in
            guard let waiting = stored.take() else {
                early.withLock { early in if early == nil { early = value } }
                return nil
            }
            return waiting
        }
        waiting?.resume(returning: value)
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
