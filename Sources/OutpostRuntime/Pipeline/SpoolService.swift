import Logging
import OutpostCore
import OutpostSpool
import OutpostUplinks
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Owns the SQLite spool on a thread of its own and keeps the runtime going when it misbehaves.
///
/// - A database that cannot be opened (corrupt, not a database) is moved aside, reported as `outpost.spool.reset`,
///   and a fresh one started: never a crash loop.
/// - A write that fails (disk full, I/O error) keeps the batch in memory, reports `outpost.spool.write_failed` once
///   per run of failures, and retries every few seconds. The memory queue is bounded by `max_size`; beyond it the
///   oldest metrics go first, counted and reported as `outpost.spool.dropped`.
final class SpoolService: Service, Sendable {
    private let executor = BlockingExecutor(label: "spool")
    let connection: SpoolConnection
    private let events: AsyncStream<Event>.Continuation
    let counters: RuntimeCounters
    private let logger: Logger
    private let wallClock: any WallClock
    private let clock: any Clock<Duration>
    private let maxBytes: Int
    private let waiting = Mutex(WaitingBatches())
    let statistics = Mutex(SpoolStatistics())
    /// One per uplink: rung whenever new batches are stored.
    let wakeSignals: [String: WakeSignal]

    private struct WaitingBatches {
        var batches: [Batch] = []
        var failing = false
    }

    private init(connection: SpoolConnection, maxBytes: Int, uplinks: [String], events: AsyncStream<Event>.Continuation,
                 counters: RuntimeCounters, clock: any Clock<Duration>, wallClock: any WallClock, logger: Logger) {
        self.connection = connection
        self.wakeSignals = Dictionary(uniqueKeysWithValues: uplinks.map { ($0, WakeSignal()) })
        self.maxBytes = maxBytes
        self.events = events
        self.counters = counters
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
    }

    /// Opens the spool at `configuration.path` (creating its folder), moving an unusable file aside.
    static func open(_ configuration: SpoolConfiguration, uplinks: [String], events: AsyncStream<Event>.Continuation,
                     counters: RuntimeCounters, clock: any Clock<Duration>, wallClock: any WallClock,
                     logger: Logger) async throws -> SpoolService {
        let executor = BlockingExecutor(label: "spool.open")
        let now = wallClock.nowNanos()
        let opened: Result<(SpoolConnection, String?), SQLiteError> = await executor.run {
            makeDirectories(for: configuration.path)
            let open = { () throws(SQLiteError) -> SpoolConnection in
                SpoolConnection(spool: try SQLiteSpool(path: configuration.path, maxBytes: Int(configuration.maxSize),
                                                       uplinks: uplinks))
            }
            do throws(SQLiteError) {
                return .success((try open(), nil))
            } catch where error.isUnusableFile && SystemPaths.exists(configuration.path) {
                let aside = SQLiteSpool.moveAside(configuration.path, now: now)
                do throws(SQLiteError) {
                    return .success((try open(), "\(error); moved it to \(aside)"))
                } catch {
                    return .failure(error)
                }
            } catch {
                return .failure(error)
            }
        }
        let (connection, resetReason) = try opened.get()
        let service = SpoolService(connection: connection, maxBytes: Int(configuration.maxSize), uplinks: uplinks,
                                   events: events, counters: counters, clock: clock, wallClock: wallClock,
                                   logger: logger)
        if let resetReason {
            service.emit(.spoolReset, .error, "the spool database could not be used and was replaced: \(resetReason)",
                         ["outpost.spool.path": .string(configuration.path)])
        }
        await service.refreshStatistics()
        return service
    }

    /// Runs until shutdown, retrying batches that are waiting in memory.
    func run() async throws {
        try? await gracefulShutdownAwareRetries()
        await retryWaiting()
        await refreshStatistics()
    }

    private func gracefulShutdownAwareRetries() async throws {
        try await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                try await clock.sleep(for: .seconds(5), tolerance: nil)
                await retryWaiting()
                await refreshStatistics()
            }
        }
    }

    /// Stores `batches`, after any still waiting from earlier failures (keeping their order).
    func write(_ batches: [Batch]) async {
        let queue = waiting.withLock { state -> [Batch] in
            state.batches += batches
            let all = state.batches
            state.batches = []
            return all
        }
        await store(queue)
    }

    private func retryWaiting() async {
        await write([])
    }

    private func store(_ queue: [Batch]) async {
        guard !queue.isEmpty else { return }
        let connection = self.connection
        let outcome = await executor.run { () -> (stored: Int, evictions: [SpoolEviction], error: SQLiteError?) in
            var evictions: [SpoolEviction] = []
            for (index, batch) in queue.enumerated() {
                do throws(SQLiteError) {
                    evictions += try connection.spool.enqueue(batch)
                } catch {
                    return (index, evictions, error)
                }
            }
            return (queue.count, evictions, nil)
        }
        let stored = Array(queue[..<outcome.stored])
        counters.update { totals in
            totals.batchesSpooled += stored.count
            totals.bytesSpooled += stored.reduce(0) { $0 + $1.payload.count }
            totals.itemsSpooled += stored.reduce(0) { $0 + $1.items }
        }
        for eviction in outcome.evictions { reportDrop(eviction, reason: "the spool reached max_size") }
        if let error = outcome.error {
            keepWaiting(Array(queue[outcome.stored...]), error: error)
        } else {
            recovered()
        }
        if !stored.isEmpty { wakeSignals.values.forEach { $0.signal() } }
        await refreshStatistics()
    }

    private func keepWaiting(_ batches: [Batch], error: SQLiteError) {
        let (firstFailure, dropped, count) = waiting.withLock { state -> (Bool, [Batch], Int) in
            let first = !state.failing
            state.failing = true
            state.batches = batches + state.batches
            let dropped = Self.trim(&state.batches, to: maxBytes)
            return (first, dropped, state.batches.count)
        }
        counters.update { totals in
            totals.spoolWriteErrors += 1
            totals.lastSpoolError = error.description
            totals.batchesWaitingInMemory = count
        }
        for batch in dropped {
            reportDrop(SpoolEviction(lane: batch.lane, batches: 1, items: batch.items, bytes: batch.payload.count),
                       reason: "the spool cannot be written and the memory queue is full")
        }
        if firstFailure {
            let hint = error.isDiskFull ? "the disk is full; free space on it" : "check the disk and its permissions"
            emit(.spoolWriteFailed, .error,
                 "cannot write to the spool (\(error)); \(count) batch(es) wait in memory, retrying every 5 s: \(hint)",
                 ["outpost.spool.error": .string(error.description)])
        }
    }

    private func recovered() {
        let wasFailing = waiting.withLock { state -> Bool in
            defer { state.failing = false }
            return state.failing
        }
        counters.update { $0.batchesWaitingInMemory = 0 }
        if wasFailing { logger.notice("the spool accepts writes again; waiting batches are stored") }
    }

    /// Drops the oldest batches of the least important lanes until the queue fits `bound` bytes.
    static func trim(_ batches: inout [Batch], to bound: Int) -> [Batch] {
        var dropped: [Batch] = []
        var total = batches.reduce(0) { $0 + $1.payload.count }
        for lane in Lane.allCases.reversed() {
            while total > bound, let index = batches.firstIndex(where: { $0.lane == lane }) {
                total -= batches[index].payload.count
                dropped.append(batches.remove(at: index))
            }
        }
        return dropped
    }

    private func reportDrop(_ eviction: SpoolEviction, reason: String) {
        emit(.spoolDropped, .warn,
             "dropped \(eviction.batches) \(eviction.lane) batch(es) (\(eviction.items) items, \(eviction.bytes) bytes): "
                + reason,
             ["outpost.spool.lane": .string(eviction.lane.description),
              "outpost.spool.dropped_batches": .int(Int64(eviction.batches)),
              "outpost.spool.dropped_items": .int(Int64(eviction.items)),
              "outpost.spool.dropped_bytes": .int(Int64(eviction.bytes))])
    }

    private func emit(_ name: EventName, _ severity: Severity, _ message: String, _ attributes: Attributes) {
        events.yield(Event(name: name, severity: severity, time: wallClock.nowNanos(), series: nil, message: message,
                           attributes: attributes))
    }

    func refreshStatistics() async {
        let connection = self.connection
        if let fresh = await executor.run({ try? connection.spool.statistics() }) {
            statistics.withLock { $0 = fresh }
        }
    }

    /// Reports a batch an uplink refused for good, as a drop.
    func reportRejection(_ batch: Batch, uplink: String, reason: String) {
        emit(.spoolDropped, .warn,
             "\(uplink) rejected \(batch.lane) batch \(batch.id) (\(batch.items) items) for good: \(reason)",
             ["outpost.spool.lane": .string(batch.lane.description), "outpost.uplink": .string(uplink),
              "outpost.spool.dropped_batches": .int(1), "outpost.spool.dropped_items": .int(Int64(batch.items)),
              "outpost.spool.dropped_bytes": .int(Int64(batch.payload.count)), "outpost.reason": .string(reason)])
    }

    func reportTransition(_ transition: UplinkConnectionState.Transition, uplink: String, endpoint: String) {
        let down = transition.to == .backingOff
        emit(.uplinkState, down ? .warn : .info,
             down ? "\(uplink) is failing and backs off: \(transition.reason)" : "\(uplink) delivers again",
             ["outpost.uplink": .string(uplink), "outpost.uplink.endpoint": .string(endpoint),
              "outpost.uplink.from": .string(transition.from.rawValue),
              "outpost.uplink.to": .string(transition.to.rawValue), "outpost.reason": .string(transition.reason)])
    }

    private static func makeDirectories(for file: String) {
        var path = ""
        for component in file.split(separator: "/").dropLast() {
            path += "/" + component
            mkdir(path, 0o750)
        }
    }
}

extension SpoolService: DeliveryQueue {
    func nextBatch(for uplink: String, now: Int64, liveSince: Int64, includeBacklog: Bool) async -> SpooledBatch? {
        let connection = self.connection
        return await executor.run {
            try? connection.spool.next(for: uplink, now: now, liveSince: liveSince, includeBacklog: includeBacklog)
        }
    }

    func markDelivered(_ sequence: Int64, by uplink: String) async {
        await settle("mark a batch delivered") { try $0.delivered(sequence, by: uplink) }
    }

    func markDeferred(_ sequence: Int64, by uplink: String, until nextAttempt: Int64, error: String) async {
        await settle("defer a batch") { try $0.deferred(sequence, by: uplink, until: nextAttempt, error: error) }
    }

    func markRejected(_ sequence: Int64, by uplink: String) async {
        await settle("drop a rejected batch") { try $0.rejected(sequence, by: uplink) }
    }

    /// A delivery bookkeeping write. If it fails the batch stays for that uplink and is sent again later: at least
    /// once, never lost.
    private func settle(_ what: String, _ change: @escaping @Sendable (SQLiteSpool) throws -> Void) async {
        let connection = self.connection
        let failure = await executor.run { () -> String? in
            do {
                try change(connection.spool)
                return nil
            } catch {
                return "\(error)"
            }
        }
        if let failure { logger.error("spool: cannot \(what): \(failure)") }
    }
}

/// The spool connection, handed between tasks but used only on the spool's serial executor.
///
/// `@unchecked Sendable` is safe because every access to `spool` happens inside `BlockingExecutor.run` closures
/// of the one `SpoolService` executor (a serial queue), so SQLite is never entered from two threads at once.
final class SpoolConnection: @unchecked Sendable {
    let spool: SQLiteSpool

    init(spool: SQLiteSpool) {
        self.spool = spool
    }
}

enum SystemPaths {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}
