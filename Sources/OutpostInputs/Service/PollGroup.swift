import Logging
import OutpostCore
import ServiceLifecycle
import Synchronization

/// Polls every input that shares an interval on one tick: one wall-clock stamp for all of them (so a batch's
/// points share their timestamps, which compress to almost nothing), their reads spread over the blocking pool,
/// and one hand-over of everything read, instead of a task, a timer and a channel hop per input.
///
/// Ticks follow a `TickSchedule`. A slow sensor delays only the reads of its share of the tick. Its members are
/// read from a `PollRoster` at each tick, so a reload adds and removes inputs without stopping the others.
package struct PollGroup: Service, CustomStringConvertible {
    // ServiceLifecycle describes each service it is given; the default description reflects every stored
    // property (for a poll group of 2,000 inputs, 2 MiB of text at start).
    package var description: String { "PollGroup(every \(interval))" }

    package struct Member: Sendable {
        package let input: Int
        package let label: String
        package let poller: Poller

        package init(input: Int, label: String, poller: Poller) {
            self.input = input
            self.label = label
            self.poller = poller
        }
    }

    let interval: Duration
    let roster: PollRoster
    let sink: any ReadingBatchSink
    let gate: SampleGate?
    let clock: any Clock<Duration>
    let wallClock: any WallClock
    let logger: Logger

    package init(interval: Duration, members: [Member], sink: any ReadingBatchSink, gate: SampleGate?,
                 clock: any Clock<Duration>, wallClock: any WallClock, logger: Logger) {
        self.init(interval: interval, roster: PollRoster(members), sink: sink, gate: gate, clock: clock,
                  wallClock: wallClock, logger: logger)
    }

    package init(interval: Duration, roster: PollRoster, sink: any ReadingBatchSink, gate: SampleGate?,
                 clock: any Clock<Duration>, wallClock: any WallClock, logger: Logger) {
        self.interval = interval
        self.roster = roster
        self.sink = sink
        self.gate = gate
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
    }

    package func run() async throws {
        for member in roster.members { logger.info("input started: \(member.label)") }
        do {
            try await cancelWhenGracefulShutdown { try await loop(clock: clock) }
        } catch is CancellationError {
        }
        logger.debug("inputs stopped: \(roster.members.count) polled every \(interval)")
    }

    private func loop<C: Clock<Duration>>(clock: C) async throws {
        var schedule = TickSchedule<C>(startingAt: clock.now, every: interval)
        while !Task.isCancelled {
            let shares = Self.shares(of: roster.members, count: BlockingPool.threadCount)
            let batch = await readAll(shares, now: wallClock.nowNanos())
            if !batch.isEmpty { await sink.accept(batch) }
            try await clock.sleep(until: schedule.advance(now: clock.now), tolerance: nil)
        }
    }

    /// One run on the pool per share, all stamped `now`; the results in member order, held back by the gate while
    /// the clock is not trusted.
    private func readAll(_ shares: [[Member]], now: Int64) async -> [InputReadings] {
        let parts = await withTaskGroup(of: (Int, [InputReadings]).self) { group in
            for (index, share) in shares.enumerated() {
                group.addTask {
                    await BlockingExecutor.pooled.run {
                        (index, share.map { InputReadings(input: $0.input, readings: $0.poller.read(now: now)) })
                    }
                }
            }
            var parts = Array(repeating: [InputReadings](), count: shares.count)
            for await (index, part) in group { parts[index] = part }
            return parts
        }
        return parts.joined().compactMap { entry in
            let readings = gate.map { $0.admit(entry.readings, from: entry.input) } ?? entry.readings
            return readings.isEmpty ? nil : InputReadings(input: entry.input, readings: readings)
        }
    }

    /// Members cut into `count` consecutive shares of about equal size, so the shares in order are the members
    /// in order.
    static func shares(of members: [Member], count: Int) -> [[Member]] {
        let count = max(1, min(count, members.count))
        let size = (members.count + count - 1) / max(count, 1)
        return stride(from: 0, to: members.count, by: max(size, 1)).map {
            Array(members[$0..<min($0 + size, members.count)])
        }
    }
}

/// The inputs of one poll group, changed by a reload between two ticks: a tick reads the members it started with.
package final class PollRoster: Sendable {
    private let current: Mutex<[PollGroup.Member]>

    package init(_ members: [PollGroup.Member]) {
        current = Mutex(members)
    }

    package var members: [PollGroup.Member] { current.withLock { $0 } }

    /// Replaces the members, keeping the given order (the runtime keeps them in input order).
    package func replace(with members: [PollGroup.Member]) {
        current.withLock { $0 = members }
    }
}
