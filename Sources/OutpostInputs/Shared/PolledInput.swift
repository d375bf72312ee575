import OutpostCore
import Synchronization

/// The part of a periodic input that reads once: synchronous and allowed to block, run off the cooperative pool.
///
/// Every read has a deadline (`readDeadline`): a read the kernel never returns from (a sysfs file of a hung I2C or
/// 1-Wire device) is given up on by the blocking pool's watchdog, reported as a fault naming the input and
/// `readActivity`, and the input is skipped until that read returns. Other inputs never wait for it.
package protocol PollingReader: Sendable {
    /// Reads every series once at `now` (unix nanoseconds). State such as previous counters lives in `self`.
    mutating func read(now: Int64) -> [Reading]
    /// The longest one read may take. Default `PollingReaderDefaults.readDeadline`.
    var readDeadline: Duration { get }
    /// What one read does, for the fault when it overruns (`reading /sys/bus/w1/devices/28-…/w1_slave`).
    var readActivity: String { get }
}

package enum PollingReaderDefaults {
    /// Readers that touch no device (simulated values) still get a deadline: a bug must not hold a thread for good.
    package static let readDeadline: Duration = .seconds(10)
}

extension PollingReader {
    package var readDeadline: Duration { PollingReaderDefaults.readDeadline }
    package var readActivity: String { "its read" }
}

/// The part of a periodic input whose read waits for something outside the process without holding a thread (a
/// command run by `CommandSupervisor`): awaited, never run on the blocking pool.
package protocol AsyncPollingReader: Sendable {
    mutating func read(now: Int64) async -> [Reading]
}

/// A periodic input: calls its reader every `interval` on the injected clock, on the shared pool of blocking threads,
/// each read watched against the reader's `readDeadline`.
///
/// Ticks follow a `TickSchedule`. The runtime ticks polled inputs of one interval together (`PollGroup`); `run`
/// polls this one alone (tests, tools).
package struct PolledInput<Reader: PollingReader>: Input {
    package let name: String
    package let pollInterval: Duration
    package var interval: Duration? { pollInterval }
    package let reader: Reader
    private let clock: any Clock<Duration>
    private let wallClock: any WallClock

    package init(name: String, interval: Duration, reader: Reader, clock: any Clock<Duration>,
                 wallClock: any WallClock) {
        self.name = name
        self.pollInterval = interval
        self.reader = reader
        self.clock = clock
        self.wallClock = wallClock
    }

    package func run(into sink: any ReadingSink) async throws {
        try await pollAlone(makePoller(), every: pollInterval, clock: clock, wallClock: wallClock, sink: sink)
    }
}

/// A periodic input whose read is awaited rather than run on the blocking pool (`AsyncPollingReader`: a command).
package struct AsyncPolledInput<Reader: AsyncPollingReader>: Input {
    package let name: String
    package let pollInterval: Duration
    package var interval: Duration? { pollInterval }
    package let reader: Reader
    private let clock: any Clock<Duration>
    private let wallClock: any WallClock

    package init(name: String, interval: Duration, reader: Reader, clock: any Clock<Duration>,
                 wallClock: any WallClock) {
        self.name = name
        self.pollInterval = interval
        self.reader = reader
        self.clock = clock
        self.wallClock = wallClock
    }

    package func run(into sink: any ReadingSink) async throws {
        try await pollAlone(makePoller(), every: pollInterval, clock: clock, wallClock: wallClock, sink: sink)
    }
}

private func pollAlone(_ poller: Poller, every interval: Duration, clock: any Clock<Duration>,
                       wallClock: any WallClock, sink: any ReadingSink) async throws {
    try await pollLoop(poller, every: interval, clock: clock, wallClock: wallClock, sink: sink)
}

private func pollLoop<C: Clock<Duration>>(_ poller: Poller, every interval: Duration, clock: C,
                                          wallClock: any WallClock, sink: any ReadingSink) async throws {
    var schedule = TickSchedule<C>(startingAt: clock.now, every: interval)
    while !Task.isCancelled {
        let readings = await poller.readAlone(now: wallClock.nowNanos())
        if !readings.isEmpty { await sink.accept(readings) }
        try await clock.sleep(until: schedule.advance(now: clock.now), tolerance: nil)
    }
}

/// A polled input the runtime may tick together with others of the same interval (see `PollGroup`).
package protocol Pollable: Input {
    var pollInterval: Duration { get }
    /// A fresh reader state for a poll group to own.
    func makePoller() -> Poller
}

extension PolledInput: Pollable {
    package func makePoller() -> Poller {
        Poller(reader)
    }
}

extension AsyncPolledInput: Pollable {
    package func makePoller() -> Poller {
        Poller(async: reader)
    }
}

/// One polled input's reader and its state (previous counters, fault latches), owned by the poll group that ticks it.
///
/// `@unchecked Sendable` is safe because a read happens only between a successful `claim()` and the matching
/// `release()`, so at most one read runs at a time (the closures mutate the reader state they captured), whichever
/// thread or task it runs on; a read given up on keeps its claim until it returns.
package final class Poller: @unchecked Sendable {
    package enum Kind: Sendable, Equatable {
        /// Runs on the blocking pool, watched against `deadline`.
        case blocking
        /// Awaited on the caller's task; bounded by the reader itself (a command's timeout).
        case async
    }

    package let kind: Kind
    /// How long a blocking read may take.
    package let deadline: Duration
    /// What a read does, for the fault when it overruns.
    package let activity: String
    private let readBlocking: ((Int64) -> [Reading])?
    private let readAsync: ((Int64) async -> [Reading])?
    private let busy = Atomic<Bool>(false)
    /// The overrun of the read still holding the claim was reported: report the next one again only after it returned.
    private let overrunReported = Atomic<Bool>(false)

    package init<Reader: PollingReader>(_ reader: Reader) {
        var state = reader
        kind = .blocking
        deadline = reader.readDeadline
        activity = reader.readActivity
        readBlocking = { now in state.read(now: now) }
        readAsync = nil
    }

    package init<Reader: AsyncPollingReader>(async reader: Reader) {
        let box = AsyncReaderBox(reader)
        kind = .async
        deadline = PollingReaderDefaults.readDeadline
        activity = "its command"
        readBlocking = nil
        readAsync = { now in await box.read(now: now) }
    }

    /// Takes the right to read; false while an earlier read has not returned yet.
    package func claim() -> Bool {
        busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    /// Gives the right to read back, after the read returned.
    package func release() {
        overrunReported.store(false, ordering: .relaxed)
        busy.store(false, ordering: .releasing)
    }

    /// Whether a read is running (or stuck) now.
    package var isReading: Bool { busy.load(ordering: .acquiring) }

    /// Notes that the read holding the claim overran; true the first time for that read.
    package func noteOverrun() -> Bool {
        !overrunReported.exchange(true, ordering: .relaxed)
    }

    /// One blocking read; call only between `claim` and `release`, off the cooperative pool.
    package func read(now: Int64) -> [Reading] {
        readBlocking?(now) ?? []
    }

    /// One asynchronous read; call only between `claim` and `release`.
    package func read(now: Int64) async -> [Reading] {
        if let readAsync { return await readAsync(now) }
        return readBlocking?(now) ?? []
    }

    /// One read of this input alone (tests, tools): on the blocking pool, watched, when it blocks.
    package func readAlone(now: Int64) async -> [Reading] {
        guard claim() else { return [] }
        switch kind {
        case .async:
            defer { release() }
            return await read(now: now)
        case .blocking:
            let outcome = await BlockingPool.shared.run(watched: { [self] watch -> [Reading] in
                guard watch.begin(activity, within: deadline) else { return [] }
                defer {
                    watch.end()
                    release()
                }
                return read(now: now)
            })
            switch outcome {
            case .finished(let readings): return readings
            case .overran, .cancelled: return []
            }
        }
    }
}

/// An async reader's state, behind a lock-free box: `Poller`'s claim keeps reads one at a time.
private final class AsyncReaderBox<Reader: AsyncPollingReader>: @unchecked Sendable {
    // `@unchecked Sendable`: `reader` is touched only by `read`, which `Poller` calls at most once at a time.
    private var reader: Reader

    init(_ reader: Reader) {
        self.reader = reader
    }

    func read(now: Int64) async -> [Reading] {
        var current = reader
        let readings = await current.read(now: now)
        reader = current
        return readings
    }
}
