import Logging
import OutpostCore
import ServiceLifecycle
import Synchronization

/// Polls every input that shares an interval on one tick: one wall-clock stamp for all of them (so a batch's
/// points share their timestamps, which compress to almost nothing), their reads spread over the blocking pool,
/// and one hand-over of everything read, instead of a task, a timer and a channel hop per input.
///
/// No input holds back the others or the shutdown:
/// - a blocking read is watched against its reader's deadline (`BlockingPool.run(watched:)`); one that overruns is
///   reported once as `outpost.sensor.fault` naming the input and what it was doing, its thread is left behind and
///   replaced, and the input is skipped on later ticks until that read returns;
/// - an input whose read waits on something outside the process (an exec command) is awaited on a task of its own
///   and hands over its readings when they come; it is not started again while its last read runs;
/// - a stop cancels both kinds at once (a command's process group is killed; a stuck read is left behind).
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
    let pool: BlockingPool

    package init(interval: Duration, members: [Member], sink: any ReadingBatchSink, gate: SampleGate?,
                 clock: any Clock<Duration>, wallClock: any WallClock, logger: Logger,
                 pool: BlockingPool = .shared) {
        self.init(interval: interval, roster: PollRoster(members), sink: sink, gate: gate, clock: clock,
                  wallClock: wallClock, logger: logger, pool: pool)
    }

    package init(interval: Duration, roster: PollRoster, sink: any ReadingBatchSink, gate: SampleGate?,
                 clock: any Clock<Duration>, wallClock: any WallClock, logger: Logger,
                 pool: BlockingPool = .shared) {
        self.interval = interval
        self.roster = roster
        self.sink = sink
        self.gate = gate
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
        self.pool = pool
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
        try await withThrowingDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let now = wallClock.nowNanos()
                let members = roster.members
                let blocking = members.filter { $0.poller.kind == .blocking }
                let awaited = members.filter { $0.poller.kind == .async }
                for member in awaited where member.poller.claim() {
                    group.addTask { await readAwaited(member, now: now) }
                }
                let batch = await readBlocking(blocking, now: now)
                if !batch.isEmpty { await sink.accept(batch) }
                try await clock.sleep(until: schedule.advance(now: clock.now), tolerance: nil)
            }
        }
    }

    /// One awaited read (a command), handed over on its own when it is done.
    private func readAwaited(_ member: Member, now: Int64) async {
        let readings = await member.poller.read(now: now)
        member.poller.release()
        guard !Task.isCancelled else { return }
        let batch = admitted([InputReadings(input: member.input, readings: readings)])
        if !batch.isEmpty { await sink.accept(batch) }
    }

    /// One watched run on the pool per share of the members not still stuck in an earlier read, all stamped `now`;
    /// the results in member order, held back by the gate while the clock is not trusted.
    private func readBlocking(_ members: [Member], now: Int64) async -> [InputReadings] {
        let ready = members.filter { !$0.poller.isReading }
        guard !ready.isEmpty else { return [] }
        let shares = Self.shares(of: ready, count: BlockingPool.threadCount)
        let parts = await withTaskGroup(of: (Int, [InputReadings]).self) { group in
            for (index, share) in shares.enumerated() {
                group.addTask { (index, await readShare(share, now: now)) }
            }
            var parts = Array(repeating: [InputReadings](), count: shares.count)
            for await (index, part) in group { parts[index] = part }
            return parts
        }
        return admitted(Array(parts.joined()))
    }

    /// Reads a share's members in order on one pool thread. When one read overruns its deadline, what was read
    /// before it is kept, that member gets a fault, and the members after it wait for the next tick.
    private func readShare(_ share: [Member], now: Int64) async -> [InputReadings] {
        let progress = ShareProgress()
        let outcome = await pool.run(watched: { watch in
            for (position, member) in share.enumerated() {
                guard member.poller.claim() else { continue }
                guard watch.begin(member.poller.activity, within: member.poller.deadline) else {
                    member.poller.release()
                    return
                }
                progress.reading(position)
                let readings = member.poller.read(now: now)
                watch.end()
                member.poller.release()
                if watch.isGivenUp { return }
                progress.append(InputReadings(input: member.input, readings: readings))
            }
        })
        let (read, stuck) = progress.result
        guard case .overran(let call, let limit) = outcome, let stuck else { return read }
        let member = share[stuck]
        guard member.poller.noteOverrun() else { return read }
        return read + [InputReadings(input: member.input, readings: Self.overrun(member, call: call, limit: limit,
                                                                                  now: now))]
    }

    /// The fault of an input whose read did not return in time.
    static func overrun(_ member: Member, call: String, limit: Duration, now: Int64) -> [Reading] {
        let reason = "\(call) did not return within \(limit); the read is left behind and the input is skipped "
            + "until it returns"
        var attributes = Attributes()
        attributes["outpost.input"] = .string(member.label)
        attributes["outpost.fault"] = .string(reason)
        return [.event(Event(name: .sensorFault, severity: .warn, time: now, series: nil,
                             message: "\(member.label): \(reason)", attributes: attributes))]
    }

    private func admitted(_ entries: [InputReadings]) -> [InputReadings] {
        entries.compactMap { entry in
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

/// What one share read so far, and which member it was reading: kept outside the run, so a run given up on still
/// hands over what it read before the call that hung.
private final class ShareProgress: Sendable {
    private let state = Mutex<(read: [InputReadings], current: Int?)>(([], nil))

    func reading(_ position: Int) {
        state.withLock { $0.current = position }
    }

    func append(_ readings: InputReadings) {
        state.withLock { state in
            state.read.append(readings)
            state.current = nil
        }
    }

    var result: (read: [InputReadings], stuck: Int?) {
        state.withLock { ($0.read, $0.current) }
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
