import Logging
import OutpostCore
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Owns the SQLite spool on a thread of its own and keeps the runtime going when it misbehaves.
///
/// - A damaged or unusable database (corrupt, not a database, another schema, a newer version), found at start or
///   while running, is moved aside, a fresh one started, and every batch that can still be read is copied into it
///   (`outpost.spool.reset` says how many, and how many were unreadable): never a crash loop, never a stall.
/// - A file that is not recognisably Outpost's and lies outside `state_dir`, a symbolic link, or a state directory
///   that cannot be written stops the start with a `StartupError` naming the path (exit 78): a config mistake must
///   not cost another program's file.
/// - A write that fails (disk full, I/O error) keeps the batch in memory, reports `outpost.spool.write_failed` once
///   per run of failures, and retries every few seconds. The memory queue is bounded by `max_size`; beyond it the
///   oldest metrics go first, counted and reported as `outpost.spool.dropped`. What is still in memory at stop is
///   counted and logged as lost.
/// - Reports about dropped batches are rate-limited (`DropReports`), so a receiver that refuses everything cannot
///   turn each report into a new refused batch, and a full spool cannot turn each report into another eviction.
///
/// It coordinates; it does not decide. Order, eviction and holding are the spool policy's (`SpoolPolicy`, applied
/// to live state by `UplinkAllowances`), asked alike by the three queues it coordinates: the staged batches
/// (`StagedBatches`), the SQLite spool (`SQLiteSpool`) and the memory queue (`MemoryQueue`).
package final class SpoolService: Service, BatchSink, Sendable {
    let executor = BlockingExecutor(label: "spool")
    package let connection: SpoolConnection
    private let opener: SpoolOpener
    private let events: any EventSink
    package let counters: PipelineCounters
    let logger: Logger
    private let wallClock: any WallClock
    private let clock: any Clock<Duration>
    private let maxBytes: Int
    private let waiting = Mutex(MemoryQueue())
    package let statistics = Mutex(SpoolStatistics())
    package let drops = Mutex(DropReports())
    /// Stamps the spool's events: the inputs' clock, whose provisional stamps the event router holds until the wall
    /// clock is trusted.
    private let eventClock: any WallClock
    /// One per uplink: rung whenever new batches are stored or staged.
    package let wakeSignals: [String: WakeSignal]
    private let destinations: [SpoolDestination]
    /// `[spool] write_after`; zero writes every batch before it is offered.
    private let writeAfter: Duration
    private let monotonic: MonotonicClock
    let staged = Mutex(StagedBatches())
    /// The policy and the live state it is applied to: what each uplink may send now.
    package let allowances: UplinkAllowances
    /// Staged batches written for only some of their uplinks (the others had confirmed them), by batch id.
    private let narrowed = Mutex<[String: [String]]>([:])
    /// How often the retry loop runs; also the step of the rejection reports' window.
    package static let retryInterval: Duration = .seconds(5)

    private init(connection: SpoolConnection, opener: SpoolOpener, destinations: [SpoolDestination],
                 writeAfter: Duration, allowances: UplinkAllowances, events: any EventSink, counters: PipelineCounters,
                 clock: any Clock<Duration>, wallClock: any WallClock, eventClock: any WallClock, logger: Logger) {
        self.connection = connection
        self.allowances = allowances
        self.destinations = destinations
        self.writeAfter = writeAfter
        self.monotonic = MonotonicClock(clock)
        self.eventClock = eventClock
        self.opener = opener
        // Names are unique (the runtime refuses duplicates); should two ever meet, they share a signal, not a trap.
        self.wakeSignals = Dictionary(destinations.map { ($0.uplink, WakeSignal()) }) { first, _ in first }
        self.maxBytes = opener.maxBytes
        self.events = events
        self.counters = counters
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
    }

    /// Opens the spool at `configuration.path` (creating its folder) for `destinations`, replacing and salvaging a
    /// damaged file. Throws a `StartupError` for what the operator must fix (an unwritable folder, a file that is not
    /// Outpost's). `policy` holds each uplink's budget and windows; `meteredLinks` and `zone` the live state they
    /// depend on (what the runtime's probe found, the local time zone).
    package static func open(_ configuration: SpoolConfiguration, destinations: [SpoolDestination],
                             policy: SpoolPolicy = SpoolPolicy(), meteredLinks: MeteredLinks = MeteredLinks(),
                             zone: @escaping @Sendable (Int64) -> TimeZoneRules = { _ in .utc },
                             events: any EventSink, counters: PipelineCounters, clock: any Clock<Duration>,
                             wallClock: any WallClock, eventClock: (any WallClock)? = nil,
                             logger: Logger) async throws -> SpoolService {
        let opener = SpoolOpener(path: configuration.path, maxBytes: Int(configuration.maxSize),
                                 destinations: destinations, stateDirectory: configuration.stateDirectory,
                                 eviction: policy.eviction)
        let now = wallClock.nowNanos()
        let opened = await BlockingExecutor(label: "spool.open").run { () -> Result<SpoolConnection, StartupError> in
            do throws(StartupError) {
                return .success(SpoolConnection(try opener.open(now: now)))
            } catch {
                return .failure(error)
            }
        }
        let connection = try opened.get()
        let ledger = await BlockingExecutor(label: "spool.open").run { try? connection.spool.budgets() }
        let allowances = UplinkAllowances(policy: policy, ledger: ledger ?? BudgetLedger(), meteredLinks: meteredLinks,
                                          zone: zone)
        let service = SpoolService(connection: connection, opener: opener, destinations: destinations,
                                   writeAfter: configuration.writeAfter, allowances: allowances, events: events,
                                   counters: counters, clock: clock, wallClock: wallClock,
                                   eventClock: eventClock ?? wallClock,
                                   logger: logger)
        if let reset = connection.takeReset() { service.report(reset) }
        await service.refreshStatistics()
        return service
    }

    /// Runs until shutdown, writing staged batches when they are due and retrying batches that wait in memory.
    package func run() async throws {
        try? await gracefulShutdownAwareRetries()
        await writeStaged(everything: true)
        await retryWaiting()
        await saveBudgets(force: true)
        reportPendingDrops()
        accountForWhatIsLeft()
        await refreshStatistics()
    }

    private func gracefulShutdownAwareRetries() async throws {
        // Staged batches are checked a few times per `write_after`; the rest keeps its 5 s step.
        let tick = writeAfter > .zero ? min(Self.retryInterval, max(writeAfter / 2, .milliseconds(100))) : Self.retryInterval
        try await cancelWhenGracefulShutdown { [self] in
            var sinceRetry = Duration.zero
            while !Task.isCancelled {
                try await clock.sleep(for: tick, tolerance: nil)
                await writeStaged()
                sinceRetry += tick
                guard sinceRetry >= Self.retryInterval else { continue }
                sinceRetry = .zero
                await retryWaiting()
                await saveBudgets()
                tickDropWindow()
                await refreshStatistics()
            }
        }
    }

    /// At stop, after the batcher's last flush: says truthfully whether everything pending reached the spool, and
    /// counts what did not (it is lost with the process) as dropped.
    @discardableResult
    package func accountForWhatIsLeft() -> Int {
        let left = waiting.withLock { $0.takeAll() }
        guard !left.isEmpty else {
            logger.info("spool closed; everything pending is in the spool")
            return 0
        }
        let items = left.reduce(0) { $0 + $1.items }
        counters.update { totals in
            totals.batchesWaitingInMemory = 0
            totals.batchesLostAtStop += left.count
            totals.itemsLostAtStop += items
        }
        logger.error("""
            spool closed with \(left.count) batch(es) (\(items) items) it could not store \
            (\(counters.snapshot.lastSpoolError ?? "the spool refused writes")): they are lost
            """)
        return left.count
    }

    /// Takes closed batches: each is offered to its uplinks from memory for `write_after` (see `StagedBatches`), or
    /// stored at once when `write_after` is zero or no uplink takes it.
    package func write(_ batches: [Batch]) async {
        // A batch for some uplinks only (an aggregated one) is stored for exactly those; for none of the configured
        // ones, it is nobody's and not kept.
        let batches = batches.filter { $0.uplinks == nil || !owners(of: $0).isEmpty }
        let narrowedBatches = batches.filter { $0.uplinks != nil }
        if !narrowedBatches.isEmpty {
            narrowed.withLock { narrowed in
                for batch in narrowedBatches { narrowed[batch.id] = owners(of: batch).sorted() }
            }
        }
        guard writeAfter > .zero else { return await store(batches) }
        var now: [Batch] = []
        var woken: Set<String> = []
        let deadline = UnixNanos.sum(monotonic.nowNanos(), UnixNanos.from(writeAfter))
        staged.withLock { staged in
            for batch in batches {
                let owners = self.owners(of: batch)
                guard !owners.isEmpty else {
                    now.append(batch)
                    continue
                }
                staged.stage(batch, for: owners, deadline: deadline)
                woken.formUnion(owners)
            }
        }
        for uplink in woken { wakeSignals[uplink]?.signal() }
        if !now.isEmpty { await store(now) }
    }

    /// The uplinks `batch` is for: those that take its signal, narrowed to the batch's own list when it has one.
    private func owners(of batch: Batch) -> Set<String> {
        let accepting = Set(destinations.filter { $0.accepts.contains(batch.signal) }.map(\.uplink))
        return batch.uplinks.map { accepting.intersection($0) } ?? accepting
    }

    /// Writes the staged batches that are due (all of them at stop), each for the uplinks still owing it.
    private func writeStaged(everything: Bool = false) async {
        let due = staged.withLock { $0.due(now: monotonic.nowNanos(), everything: everything) }
        guard !due.isEmpty else { return }
        await store(due.map(\.batch), owing: due)
    }

    /// Stores `batches`, after any still waiting from earlier failures (keeping their order). `owing` says which
    /// uplinks staged batches are stored for.
    func store(_ batches: [Batch], owing: [StagedBatches.Entry] = []) async {
        narrowed.withLock { narrowed in
            for entry in owing { narrowed[entry.batch.id] = entry.owing.sorted() }
        }
        let queue = waiting.withLock { state -> [Batch] in
            state.append(batches)
            return state.takeAll()
        }
        await storeInOrder(queue)
    }

    private func retryWaiting() async {
        if connection.isClosed { await reopen() }
        await store([])
    }

    /// After `error`: if it says the file is damaged, moves it aside, starts a fresh spool, salvages what can be
    /// read, and reports it. True when the spool was replaced.
    func recoverIfDamaged(_ error: SQLiteError) async -> Bool {
        guard error.isUnusableFile else { return false }
        let connection = self.connection, opener = self.opener, now = wallClock.nowNanos()
        let replaced = await executor.run { connection.replace(using: opener, after: error, now: now) }
        afterReplacing(replaced)
        return replaced
    }

    /// Tries again to open a spool whose replacement failed earlier (the disk was full, say).
    private func reopen() async {
        let connection = self.connection, opener = self.opener
        let replaced = await executor.run { connection.reopen(using: opener) }
        afterReplacing(replaced)
    }

    private func afterReplacing(_ replaced: Bool) {
        if let reset = connection.takeReset() { report(reset) }
        if replaced { wakeSignals.values.forEach { $0.signal() } }
    }

    func report(_ reset: SpoolReset) {
        for eviction in reset.salvage.evicted { reportDrop(eviction, reason: "salvaged batches exceeded max_size") }
        emit(.spoolReset, .error, reset.message,
             ["outpost.spool.path": .string(opener.path), "outpost.spool.aside": .string(reset.aside),
              "outpost.spool.salvaged_batches": .int(Int64(reset.salvage.batches)),
              "outpost.spool.unreadable_batches": .int(Int64(reset.salvage.unreadable))])
        counters.update { totals in
            totals.spoolResets += 1
            totals.lastSpoolError = reset.cause
        }
    }

    /// Stores `queue` in order. A damaged file met on the way is replaced (once per call) and the rest stored in the
    /// new one; any other failure keeps the rest waiting in memory.
    private func storeInOrder(_ queue: [Batch], afterReset: Bool = false) async {
        guard !queue.isEmpty else { return }
        if connection.isClosed { await reopen() }
        let connection = self.connection
        let targets = narrowed.withLock { $0 }
        let outcome = await executor.run { () -> (stored: Int, evictions: [SpoolEviction], error: SQLiteError?) in
            if connection.isClosed { return (0, [], connection.closedError) }
            var evictions: [SpoolEviction] = []
            for (index, batch) in queue.enumerated() {
                do throws(SQLiteError) {
                    evictions += try connection.spool.enqueue(batch, for: targets[batch.id])
                } catch {
                    return (index, evictions, error)
                }
            }
            return (queue.count, evictions, nil)
        }
        if let error = outcome.error, error.isUnusableFile, !afterReset, await recoverIfDamaged(error) {
            let stored = Array(queue[..<outcome.stored])
            counted(stored)
            await storeInOrder(Array(queue[outcome.stored...]), afterReset: true)
            return
        }
        let stored = Array(queue[..<outcome.stored])
        narrowed.withLock { narrowed in for batch in stored { narrowed[batch.id] = nil } }
        counted(stored)
        for eviction in outcome.evictions { reportDrop(eviction, reason: "the spool reached max_size") }
        if let error = outcome.error {
            keepWaiting(Array(queue[outcome.stored...]), error: error)
        } else {
            recovered()
        }
        if !stored.isEmpty { wakeSignals.values.forEach { $0.signal() } }
        await refreshStatistics()
    }

    private func counted(_ stored: [Batch]) {
        counters.update { totals in
            totals.batchesSpooled += stored.count
            totals.bytesSpooled += stored.reduce(0) { $0 + $1.payload.count }
            totals.itemsSpooled += stored.reduce(0) { $0 + $1.items }
        }
    }

    private func keepWaiting(_ batches: [Batch], error: SQLiteError) {
        let (firstFailure, dropped, count) = waiting.withLock { state -> (Bool, [Batch], Int) in
            let first = !state.failing
            state.failing = true
            let dropped = state.putBack(batches, bound: maxBytes, by: allowances.policy.eviction)
            return (first, dropped, state.count)
        }
        counters.update { totals in
            totals.spoolWriteErrors += 1
            totals.lastSpoolError = error.description
            totals.batchesWaitingInMemory = count
        }
        narrowed.withLock { narrowed in for batch in dropped { narrowed[batch.id] = nil } }
        for batch in dropped {
            reportDrop(SpoolEviction(lane: batch.lane, batches: 1, items: batch.items, bytes: batch.payload.count),
                       reason: "the spool cannot be written and the memory queue is full")
        }
        if firstFailure {
            let hint = error.isDiskFull ? "the disk is full; free space on it"
                : error.isWALHeld ? "they are stored once that reader ends" : "check the disk and its permissions"
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

    /// Reports batches the spool itself dropped (to stay within `max_size`, or from a full memory queue): the first
    /// per lane at once, the rest of the minute in one summary. A drop report is an event, often an alert, and is
    /// stored too: on a full spool each report would otherwise evict more data and be reported again.
    private func reportDrop(_ eviction: SpoolEviction, reason: String) {
        let first = drops.withLock {
            $0.admit(uplink: "", lane: eviction.lane, batches: eviction.batches, items: eviction.items,
                     bytes: eviction.bytes, reason: reason)
        }
        guard first else { return }
        emit(.spoolDropped, .warn,
             "dropped \(eviction.batches) \(eviction.lane) batch(es) (\(eviction.items) items, \(eviction.bytes) bytes): "
                + reason + "; further drops are counted and reported at most once a minute",
             DropReports.attributes(uplink: "", lane: eviction.lane, batches: eviction.batches, items: eviction.items,
                            bytes: eviction.bytes, reason: reason))
    }

    /// Sends an event about the spool through the event router's door.
    func emit(_ name: EventName, _ severity: Severity, _ message: String, _ attributes: Attributes) {
        events.send([Event(name: name, severity: severity, time: eventClock.nowNanos(), series: nil, message: message,
                           attributes: attributes)])
    }

    package func refreshStatistics() async {
        let connection = self.connection
        if let fresh = await executor.run({ try? connection.spool.statistics() }) {
            statistics.withLock { $0 = fresh }
        }
    }

    /// Saves what the uplinks spent when it is due (`UplinkAllowances.ledgerToSave`), or now (`force`, at stop).
    /// A failed save is tried again at the next step; counting goes on in memory.
    private func saveBudgets(force: Bool = false) async {
        let now = wallClock.nowNanos()
        guard let ledger = allowances.ledgerToSave(now: now, force: force) else { return }
        let connection = self.connection
        let failure = await executor.run { () -> SQLiteError? in
            if connection.isClosed { return connection.closedError }
            do throws(SQLiteError) {
                try connection.spool.saveBudgets(ledger)
                return nil
            } catch {
                return error
            }
        }
        if let failure {
            logger.warning("spool: cannot save what the uplinks spent of their budgets: \(failure); kept in memory")
        } else {
            allowances.saved(ledger, now: now)
        }
    }

    package func tickDropWindow() {
        for summary in drops.withLock({ $0.step() }) { reportSummary(summary) }
    }

    private func reportPendingDrops() {
        for summary in drops.withLock({ $0.drain() }) { reportSummary(summary) }
    }

    private func reportSummary(_ summary: DropReports.Summary) {
        events.send([DropReports.summaryEvent(summary, time: eventClock.nowNanos())])
    }
}
