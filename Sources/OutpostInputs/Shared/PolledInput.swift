import OutpostCore

/// The part of a periodic input that reads once: synchronous and allowed to block, run off the cooperative pool.
package protocol PollingReader: Sendable {
    /// Reads every series once at `now` (unix nanoseconds). State such as previous counters lives in `self`.
    mutating func read(now: Int64) -> [Reading]
}

/// A periodic input: calls its reader every `interval` on the injected clock, on the shared pool of blocking threads.
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
        try await Self.loop(clock: clock, every: pollInterval, reader: reader, wallClock: wallClock,
                            executor: .pooled, sink: sink)
    }

    private static func loop<C: Clock<Duration>>(
        clock: C, every interval: Duration, reader: Reader, wallClock: any WallClock,
        executor: BlockingExecutor, sink: any ReadingSink
    ) async throws {
        var state = reader
        var schedule = TickSchedule<C>(startingAt: clock.now, every: interval)
        while !Task.isCancelled {
            let now = wallClock.nowNanos()
            let current = state
            let (updated, readings) = await executor.run {
                var reader = current
                let readings = reader.read(now: now)
                return (reader, readings)
            }
            state = updated
            if !readings.isEmpty { await sink.accept(readings) }
            try await clock.sleep(until: schedule.advance(now: clock.now), tolerance: nil)
        }
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

/// One polled input's reader and its state (previous counters, fault latches), owned by the poll group that ticks it.
///
/// `@unchecked Sendable` is safe because only its poll group calls `read`, at most once at a time: each tick hands
/// every poller to exactly one run on the blocking pool and awaits them all before the next tick.
package final class Poller: @unchecked Sendable {
    private var readOnce: (Int64) -> [Reading]

    package init<Reader: PollingReader>(_ reader: Reader) {
        var state = reader
        readOnce = { now in state.read(now: now) }
    }

    package func read(now: Int64) -> [Reading] {
        readOnce(now)
    }
}
