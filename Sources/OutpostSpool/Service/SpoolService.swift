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
package final class SpoolService: Service, BatchSink, Sendable {
    private let executor = BlockingExecutor(label: "spool")
    package let connection: SpoolConnection
    private let opener: SpoolOpener
    private let events: any EventSink
    package let counters: PipelineCounters
    private let logger: Logger
    private let wallClock: any WallClock
    private let clock: any Clock<Duration>
    private let maxBytes: Int
    private let waiting = Mutex(WaitingBatches())
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
    private let staged = Mutex(StagedBatches())
    /// Staged batches written for only some of their uplinks (the others had confirmed them), by batch id.
    private let narrowed = Mutex<[String: [String]]>([:])
    /// How often the retry loop runs; also the step of the rejection reports' window.
    package static let retryInterval: Duration = .seconds(5)

    private struct WaitingBatches {
        var batches: [Batch] = []
        var failing = false
    }

    private init(connection: SpoolConnection, opener: SpoolOpener, destinations: [SpoolDestination],
                 writeAfter: Duration, events: any EventSink, counters: PipelineCounters, clock: any Clock<Duration>,
                 wallClock: any WallClock, eventClock: any WallClock, logger: Logger) {
        self.connection = connection
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
    /// Outpost's).
    package static func open(_ configuration: SpoolConfiguration, destinations: [SpoolDestination],
                             events: any EventSink, counters: PipelineCounters, clock: any Clock<Duration>,
                             wallClock: any WallClock, eventClock: (any WallClock)? = nil,
                             logger: Logger) async throws -> SpoolService {
        let opener = SpoolOpener(path: configuration.path, maxBytes: Int(configuration.maxSize),
                                 destinations: destinations, stateDirectory: configuration.stateDirectory)
        let now = wallClock.nowNanos()
        let opened = await BlockingExecutor(label: "spool.open").run { () -> Result<SpoolConnection, StartupError> in
            do throws(StartupError) {
                return .success(SpoolConnection(try opener.open(now: now)))
            } catch {
                return .failure(error)
            }
        }
        let connection = try opened.get()
        let service = SpoolService(connection: connection, opener: opener, destinations: destinations,
                                   writeAfter: configuration.writeAfter, events: events,
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
                tickDropWindow()
                await refreshStatistics()
            }
        }
    }

    /// At stop, after the batcher's last flush: says truthfully whether everything pending reached the spool, and
    /// counts what did not (it is lost with the process) as dropped.
    @discardableResult
    package func accountForWhatIsLeft() -> Int {
        let left = waiting.withLock { state -> [Batch] in
            defer { state.batches = [] }
            return state.batches
        }
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
        guard writeAfter > .zero else { return await store(batches) }
        var now: [Batch] = []
        var woken: Set<String> = []
        let deadline = UnixNanos.sum(monotonic.nowNanos(), UnixNanos.from(writeAfter))
        staged.withLock { staged in
            for batch in batches {
                let owners = Set(destinations.filter { $0.accepts.contains(batch.signal) }.map(\.uplink))
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

    /// Writes the staged batches that are due (all of them at stop), each for the uplinks still owing it.
    private func writeStaged(everything: Bool = false) async {
        let due = staged.withLock { $0.due(now: monotonic.nowNanos(), everything: everything) }
        guard !due.isEmpty else { return }
        await store(due.map(\.batch), owing: due)
    }

    /// Stores `batches`, after any still waiting from earlier failures (keeping their order). `owing` says which
    /// uplinks staged batches are stored for.
    private func store(_ batches: [Batch], owing: [StagedBatches.Entry] = []) async {
        narrowed.withLock { narrowed in
            for entry in owing { narrowed[entry.batch.id] = entry.owing.sorted() }
        }
        let queue = waiting.withLock { state -> [Batch] in
            state.batches += batches
            let all = state.batches
            state.batches = []
            return all
        }
        await storeInOrder(queue)
    }

    private func retryWaiting() async {
        if connection.isClosed { await reopen() }
        await store([])
    }

    /// After `error`: if it says the file is damaged, moves it aside, starts a fresh spool, salvages what can be
    /// read, and reports it. True when the spool was replaced.
    private func recoverIfDamaged(_ error: SQLiteError) async -> Bool {
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

    private func report(_ reset: SpoolReset) {
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
            state.batches = batches + state.batches
            let dropped = Self.trim(&state.batches, to: maxBytes)
            return (first, dropped, state.batches.count)
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

    /// Drops the oldest batches of the least important lanes until the queue fits `bound` bytes.
    package static func trim(_ batches: inout [Batch], to bound: Int) -> [Batch] {
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
    private func emit(_ name: EventName, _ severity: Severity, _ message: String, _ attributes: Attributes) {
        events.send([Event(name: name, severity: severity, time: eventClock.nowNanos(), series: nil, message: message,
                           attributes: attributes)])
    }

    package func refreshStatistics() async {
        let connection = self.connection
        if let fresh = await executor.run({ try? connection.spool.statistics() }) {
            statistics.withLock { $0 = fresh }
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

extension SpoolService: DeliveryQueue {
    /// The next batch; a damaged file met here is replaced and the question asked again of the new spool. Other
    /// read failures answer nil: the delivery loop looks again later.
    package func nextBatch(for uplink: String, now: Int64, liveSince: Int64, includeBacklog: Bool) async -> SpooledBatch? {
        if let alert = staged.withLock({ $0.take(for: uplink, alertsOnly: true) }) { return alert }
        let stored = await storedBatch(for: uplink, now: now, liveSince: liveSince, includeBacklog: includeBacklog)
        // Stored alerts and older live batches go first; staged batches are live and come before the backlog.
        if let stored, stored.batch.lane == .alerts || stored.batch.created >= liveSince { return stored }
        return staged.withLock { $0.take(for: uplink, alertsOnly: false) } ?? stored
    }

    private func storedBatch(for uplink: String, now: Int64, liveSince: Int64, includeBacklog: Bool) async
        -> SpooledBatch?
    {
        for _ in 0..<2 {
            let connection = self.connection
            let result = await executor.run { () -> Result<SpooledBatch?, SQLiteError> in
                if connection.isClosed { return .failure(connection.closedError) }
                do throws(SQLiteError) {
                    return .success(try connection.spool.next(for: uplink, now: now, liveSince: liveSince,
                                                              includeBacklog: includeBacklog))
                } catch {
                    return .failure(error)
                }
            }
            switch result {
            case .success(let batch): return batch
            case .failure(let error):
                guard await recoverIfDamaged(error) else { return nil }
            }
        }
        return nil
    }

    package func markDelivered(_ sequence: Int64, by uplink: String) async {
        // A staged batch confirmed from memory: nothing to write. (One written at stop meanwhile is sent again.)
        guard sequence > 0 else { return staged.withLock { _ = $0.confirm(sequence, by: uplink) } }
        await settle("mark a batch delivered") { (spool) throws(SQLiteError) in
            try spool.delivered(sequence, by: uplink)
        }
    }

    package func markDeferred(_ sequence: Int64, by uplink: String, until nextAttempt: Int64, error: String) async {
        // Not now: the staged batch is written at once, for every uplink still owing it.
        guard sequence > 0 else {
            guard let entry = staged.withLock({ $0.release(sequence, by: uplink) }) else { return }
            return await store([entry.batch], owing: [entry])
        }
        await settle("defer a batch") { (spool) throws(SQLiteError) in
            try spool.deferred(sequence, by: uplink, until: nextAttempt, error: error)
        }
    }

    package func markRejected(_ sequence: Int64, by uplink: String) async {
        guard sequence > 0 else { return await rejectStaged(sequence, by: uplink) }
        await settle("drop a rejected batch") { (spool) throws(SQLiteError) in
            try spool.rejected(sequence, by: uplink)
        }
    }

    /// Refused for good from memory: counted as dropped for `uplink`, and written for the uplinks still owing it.
    private func rejectStaged(_ sequence: Int64, by uplink: String) async {
        guard var entry = staged.withLock({ $0.release(sequence, by: uplink) }) else { return }
        let batch = entry.batch
        await settle("count a rejected batch") { (spool) throws(SQLiteError) in try spool.recordRejected(batch) }
        entry.owing.remove(uplink)
        if !entry.owing.isEmpty { await store([entry.batch], owing: [entry]) }
    }

    /// A delivery bookkeeping write. If it fails the batch stays for that uplink and is sent again later: at least
    /// once, never lost.
    private func settle(_ what: String, _ change: @escaping @Sendable (SQLiteSpool) throws(SQLiteError) -> Void) async {
        let connection = self.connection
        let failure = await executor.run { () -> SQLiteError? in
            if connection.isClosed { return connection.closedError }
            do throws(SQLiteError) {
                try change(connection.spool)
                return nil
            } catch {
                return error
            }
        }
        guard let failure else { return }
        logger.error("spool: cannot \(what): \(failure)")
        _ = await recoverIfDamaged(failure)
    }
}

/// The spool connection, handed between tasks but used only on the spool's serial executor.
///
/// `@unchecked Sendable` is safe because `spool` is read and replaced only inside `BlockingExecutor.run` closures
/// of the one `SpoolService` executor (a serial queue), so SQLite is never entered from two threads at once; the
/// few flags read from other tasks live in a mutex.
package final class SpoolConnection: @unchecked Sendable {
    private(set) var spool: SQLiteSpool
    private let flags = Mutex(Flags())

    private struct Flags {
        var closed = false
        /// Where the damaged file went, while no fresh spool could be opened yet (its salvage is still owed).
        var asideAwaitingSalvage: (path: String, cause: String)?
        var reset: SpoolReset?
    }

    package init(_ opened: (SQLiteSpool, SpoolReset?)) {
        spool = opened.0
        flags.withLock { $0.reset = opened.1 }
    }

    package var isClosed: Bool { flags.withLock { $0.closed } }
    var closedError: SQLiteError {
        SQLiteError(code: 21, message: "no spool is open (a damaged one was moved aside and a new one could not be "
                        + "created yet)", sql: nil)
    }

    /// The reset that happened last, once.
    package func takeReset() -> SpoolReset? {
        flags.withLock { flags in
            defer { flags.reset = nil }
            return flags.reset
        }
    }

    /// On the executor: closes the damaged spool, moves its files aside, opens a fresh one and salvages into it.
    package func replace(using opener: SpoolOpener, after error: SQLiteError, now: Int64) -> Bool {
        guard !isClosed else { return reopen(using: opener) }
        spool.close()
        let aside = SQLiteSpool.moveAside(opener.path, now: now)
        flags.withLock { $0 = Flags(closed: true, asideAwaitingSalvage: (aside, error.description)) }
        return reopen(using: opener)
    }

    /// On the executor: opens a fresh spool and salvages the damaged one into it, if that is still owed.
    package func reopen(using opener: SpoolOpener) -> Bool {
        guard let (aside, cause) = flags.withLock({ $0.asideAwaitingSalvage }) else { return false }
        do throws(SQLiteError) {
            let fresh = try opener.fresh()
            let reset = opener.salvage(aside, into: fresh, cause: cause)
            spool = fresh
            flags.withLock { $0 = Flags(closed: false, asideAwaitingSalvage: nil, reset: reset) }
            return true
        } catch {
            return false
        }
    }
}

/// A damaged spool replaced by a fresh one: where it went, why, and what was salvaged from it.
package struct SpoolReset: Sendable {
    package let path: String
    package let aside: String
    package let cause: String
    package let salvage: SpoolSalvage

    package var message: String {
        var text = "the spool \(path) could not be used (\(cause)); moved it to \(aside) and started a new one"
        text += "; salvaged \(salvage.batches) batch(es) (\(salvage.items) items)"
        if salvage.unreadable > 0 { text += ", up to \(salvage.unreadable) batch(es) could not be read and are lost" }
        if let failure = salvage.failure { text += "; nothing more could be read: \(failure)" }
        return text + ". `outpost spool export --spool \(aside)` reads what is left in the old file."
    }
}

/// Opens the spool file and decides what may be done to a file that is already there.
package struct SpoolOpener: Sendable {
    package let path: String
    package let maxBytes: Int
    package let destinations: [SpoolDestination]
    package let stateDirectory: String?

    /// Opens the spool: creates the folder, refuses what is not Outpost's to touch, replaces a damaged file.
    package func open(now: Int64) throws(StartupError) -> (SQLiteSpool, SpoolReset?) {
        try prepareFolder()
        if let refusal = OwnedFile.refusal(path) {
            throw StartupError("[spool] path: \(refusal). Outpost refuses to open it as its spool.")
        }
        do throws(SQLiteError) {
            return (try fresh(), nil)
        } catch where error.isUnusableFile {
            guard mayMoveAside else {
                throw StartupError("""
                    [spool] path: \(path) is not an Outpost spool (\(error)) and lies outside state_dir \
                    (\(stateDirectory ?? "not set")): Outpost does not move or replace a file it cannot tell is \
                    its own. Point [spool] path at a new file, or move this one away yourself.
                    """)
            }
            let aside = SQLiteSpool.moveAside(path, now: now)
            do throws(SQLiteError) {
                let spool = try fresh()
                return (spool, salvage(aside, into: spool, cause: error.description))
            } catch {
                throw StartupError("cannot create a new spool at \(path) after moving the old one aside: \(error)")
            }
        } catch {
            throw StartupError("""
                cannot open the spool \(path): \(error). Check that the folder exists and that Outpost's user \
                (uid \(getuid())) may write it (state_dir, or [spool] path).
                """)
        }
    }

    /// A damaged file may be moved aside when it is in Outpost's own folder or carries Outpost's mark.
    private var mayMoveAside: Bool {
        stateDirectory.map { OwnedFile.isInside(path, directory: $0) } == true || SQLiteSpool.isOutpostDatabase(path)
    }

    package func fresh() throws(SQLiteError) -> SQLiteSpool {
        try SQLiteSpool(path: path, maxBytes: maxBytes, destinations: destinations)
    }

    package func salvage(_ aside: String, into spool: SQLiteSpool, cause: String) -> SpoolReset {
        SpoolReset(path: path, aside: aside, cause: cause, salvage: spool.salvage(from: aside))
    }

    /// Creates the spool's folder (and its parents) if needed, and says clearly when that is impossible.
    private func prepareFolder() throws(StartupError) {
        var folder = ""
        for component in path.split(separator: "/").dropLast() {
            folder += "/" + component
            if mkdir(folder, 0o750) != 0, errno != EEXIST {
                throw StartupError("cannot create the folder \(folder) for the spool \(path): "
                    + "\(String(cString: strerror(errno))). Create it for Outpost's user (uid \(getuid())) or "
                    + "change state_dir.")
            }
        }
        guard !folder.isEmpty else { return }
        guard OwnedFile.kind(of: folder) == .directory || isDirectoryThroughLink(folder) else {
            throw StartupError("the spool's folder \(folder) is not a directory. Fix state_dir or [spool] path.")
        }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw StartupError("Outpost (uid \(getuid())) cannot write the spool's folder \(folder): "
                + "\(String(cString: strerror(errno))). Give it write access or change state_dir.")
        }
    }

    private func isDirectoryThroughLink(_ folder: String) -> Bool {
        var info = stat()
        return stat(folder, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}
