import OutpostCore
import OutpostSpool
import Synchronization

/// How a delivery loop paces itself.
package struct DeliverySettings: Sendable, Equatable {
    package var backoff = BackoffPolicy()
    /// Backlog batches (older than `liveWindow`) sent per second at most, so a long outage's backlog drains in the
    /// background without starving live data or saturating a metered link. Default 5.
    package var drainRate = 5.0
    /// Batches younger than this are live and go before the backlog. Default 1 min.
    package var liveWindow: Duration = .seconds(60)
    /// With nothing to send, look again after this long even without a wake-up. Default 30 s: also how late a sync
    /// window's opening or a budget's renewal is noticed at most.
    package var idleRecheck: Duration = .seconds(30)
    /// What is held back while the link is metered: budgets, sync windows, drain order (the spool applies it).
    package var holding = UplinkHolding()
    /// `aggregate`, default none: while the link is metered, metrics go as one summary per series and interval (the
    /// batcher makes them); alerts and detection keep every sample.
    package var aggregate: Duration?

    package init() {}
}

/// What an uplink reports about itself, for the status file.
package struct UplinkStatus: Sendable, Equatable {
    package var name: String
    package var kind: String
    package var endpoint: String
    package var phase = UplinkConnectionState.Phase.starting
    package var consecutiveFailures = 0
    package var lastError: String?
    package var lastDelivery: Int64?
    package var nextAttempt: Int64?
    package var deliveredBatches = 0
    package var deliveredItems = 0
    package var deliveredBytes = 0
    /// Bytes on the wire for every attempt, delivered or not (both directions; see `WireCounting`).
    package var wireBytes = 0
    package var rejectedBatches = 0
    /// Items left out of delivered batches because the receiver can never take them.
    package var droppedItems = 0
    package var retries = 0
    /// From each delivered batch's creation to its delivery, summed, in seconds: with `deliveredBatches`, the
    /// mean delivery latency (a Prometheus summary's `_sum` and `_count`).
    package var deliveryLatencySum = 0.0

    package init(name: String, kind: String, endpoint: String) {
        self.name = name
        self.kind = kind
        self.endpoint = endpoint
    }
}

/// Something a delivery loop wants the operator to know.
package enum DeliveryReport: Sendable {
    case transition(UplinkConnectionState.Transition)
    case rejected(batch: Batch, reason: String)
    /// Items of a delivered batch left out for good (each larger than the receiver takes).
    case droppedItems(batch: Batch, items: Int, bytes: Int, reason: String)
}

/// Drains the spool through one uplink: the one place where retries, backoff, pacing and drops live.
///
/// Alerts go first; live batches before the backlog; the backlog oldest-first at `drainRate`. A retryable failure
/// backs the whole uplink off (the receiver is down or overloaded, so the next batch would fail too) and defers
/// the batch in the spool; a permanent rejection drops that batch for this uplink, counted and reported. A batch
/// the spool could not mark delivered is not sent again: the mark is retried with backoff. Every wait runs on the
/// injected monotonic `clock`; the wall clock only tells which batches are live. When the uplink's connection
/// comes back (`ReconnectNotifying`), a backoff ends at once.
package final class DeliveryLoop: Sendable {
    package let uplink: any Uplink
    private let queue: any DeliveryQueue
    private let signal: WakeSignal
    /// Rung when the uplink reconnects: ends a backoff wait early (new batches do not).
    private let recovery = WakeSignal()
    private let reconnected = Atomic<Bool>(false)
    private let settings: DeliverySettings
    private let clock: any Clock<Duration>
    private let wallClock: any WallClock
    private let report: @Sendable (DeliveryReport) -> Void
    package let status: Mutex<UplinkStatus>

    package init(uplink: any Uplink, endpoint: String, kind: String, queue: any DeliveryQueue, signal: WakeSignal,
                settings: DeliverySettings, clock: any Clock<Duration>, wallClock: any WallClock,
                report: @escaping @Sendable (DeliveryReport) -> Void) {
        self.uplink = uplink
        self.queue = queue
        self.signal = signal
        self.settings = settings
        self.clock = clock
        self.wallClock = wallClock
        self.report = report
        self.status = Mutex(UplinkStatus(name: uplink.name, kind: kind, endpoint: endpoint))
        (uplink as? any ReconnectNotifying)?.onReconnect { [weak self] in self?.connectionCameBack() }
    }

    /// Runs until the task is cancelled.
    package func run() async {
        await Self.loop(self, clock: clock)
    }

    private func connectionCameBack() {
        reconnected.store(true, ordering: .releasing)
        recovery.signal()
    }

    /// A batch's outcome that the spool has to record.
    private struct Settlement {
        enum Outcome { case delivered, rejected }
        let sequence: Int64
        let outcome: Outcome
    }

    private static func loop<C: Clock<Duration>>(_ loop: DeliveryLoop, clock: C) async {
        let monotonic = MonotonicClock(clock)
        var connection = UplinkConnectionState(policy: loop.settings.backoff)
        var reports = StateReports()
        var bucket = TokenBucket(rate: loop.settings.drainRate)
        var random = SystemRandomNumberGenerator()
        /// Recorded, but not yet seen to have taken.
        var lastSettled: Settlement?
        /// Failed to record: record again after the backoff, without sending the batch again.
        var unsettled: Settlement?
        while !Task.isCancelled {
            var now = monotonic.nowNanos()
            if loop.reconnected.exchange(false, ordering: .acquiring), connection.reachable(now: now) {
                loop.updateStatus(connection, now: now)
            }
            if let transition = reports.due(now: now) { loop.report(.transition(transition)) }
            let wait = connection.wait(now: now)
            if wait > .zero {
                await loop.recovery.wait(upTo: min(wait, reports.dueIn(now: now) ?? wait), clock: clock)
                continue
            }
            if let settlement = unsettled {
                unsettled = nil
                connection.attempting(now: now)
                if await loop.record(settlement, connection: &connection, now: now, random: random.unit()) {
                    lastSettled = settlement
                } else {
                    unsettled = settlement
                }
                continue
            }
            let backlogAllowed = bucket.hasToken(now: now)
            let wallNow = loop.wallClock.nowNanos()
            let liveSince = UnixNanos.sum(wallNow, -UnixNanos.from(loop.settings.liveWindow))
            guard let next = await loop.queue.nextBatch(for: loop.uplink.name, now: wallNow, liveSince: liveSince,
                                                        includeBacklog: backlogAllowed)
            else {
                if lastSettled != nil { connection.settled() }
                lastSettled = nil
                let idle = backlogAllowed ? loop.settings.idleRecheck : bucket.timeUntilToken(now: now)
                await loop.signal.wait(upTo: min(idle, reports.dueIn(now: now) ?? idle), clock: clock)
                continue
            }
            now = monotonic.nowNanos()
            if let settled = lastSettled, settled.sequence == next.sequence {
                // Offered again right after it was recorded: the record did not take (the spool's disk is full).
                lastSettled = nil
                unsettled = settled
                loop.settleFailed("the spool still offers batch \(next.batch.id) after it was recorded",
                                  connection: &connection, now: now, random: random.unit())
                continue
            }
            if lastSettled != nil { connection.settled() }
            lastSettled = nil
            if next.batch.lane != .alerts, next.batch.created < liveSince { bucket.take(now: now) }
            connection.attempting(now: now)
            let attempt = await loop.uplink.deliverCountingBytes(next.batch)
            await loop.charge(attempt.wireBytes)
            let result = attempt.result
            let settled = await loop.settle(next, result: result, connection: &connection, reports: &reports,
                                            now: monotonic.nowNanos(), random: random.unit())
            if let settled {
                if settled.recorded { lastSettled = settled.settlement } else { unsettled = settled.settlement }
            }
        }
    }

    /// Counts what an attempt put on the wire, for the status and the uplink's budgets.
    private func charge(_ bytes: Int) async {
        guard bytes > 0 else { return }
        status.withLock { $0.wireBytes += bytes }
        await queue.spent(bytes, by: uplink.name, now: wallClock.nowNanos())
    }

    /// Acts on what the uplink said about `spooled`. When the batch is to leave the spool, returns that outcome and
    /// whether the spool recorded it.
    private func settle(_ spooled: SpooledBatch, result: DeliveryResult, connection: inout UplinkConnectionState,
                        reports: inout StateReports, now: Int64, random: Double) async
        -> (settlement: Settlement, recorded: Bool)?
    {
        var settlement: Settlement?
        switch result {
        case .delivered, .partiallyDelivered:
            settlement = Settlement(sequence: spooled.sequence, outcome: .delivered)
            if case .partiallyDelivered(let items, let bytes, let reason) = result {
                report(.droppedItems(batch: spooled.batch, items: items, bytes: bytes, reason: reason))
                status.withLock { $0.droppedItems += items }
            }
            if let change = connection.delivered(), let transition = reports.changed(change, now: now) {
                report(.transition(transition))
            }
            let wallNow = wallClock.nowNanos()
            status.withLock { status in
                status.deliveredBatches += 1
                status.deliveredItems += spooled.batch.items
                status.deliveredBytes += spooled.batch.payload.count
                status.lastDelivery = wallNow
                status.deliveryLatencySum += UnixNanos.seconds(max(0, wallNow - spooled.batch.created))
            }
        case .retry(let after, let reason):
            let (nextAttempt, transition) = connection.failed(reason: reason, retryAfter: after, now: now,
                                                              random: random)
            // The spool keeps wall-clock times; it only shows them (a delivery loop backs off as a whole).
            let until = UnixNanos.sum(wallClock.nowNanos(), nextAttempt - now)
            try? await queue.markDeferred(spooled.sequence, by: uplink.name, until: until, error: reason)
            if let transition, let held = reports.changed(transition, now: now) { report(.transition(held)) }
            status.withLock { $0.retries += 1 }
        case .rejected(let reason):
            settlement = Settlement(sequence: spooled.sequence, outcome: .rejected)
            connection.rejected(reason: reason)
            report(.rejected(batch: spooled.batch, reason: reason))
            status.withLock { $0.rejectedBatches += 1 }
        }
        var recorded = false
        if let settlement { recorded = await record(settlement, connection: &connection, now: now, random: random) }
        updateStatus(connection, now: now)
        return settlement.map { ($0, recorded) }
    }

    /// Has the spool record `settlement`; on failure backs off. Returns whether the spool took it.
    private func record(_ settlement: Settlement, connection: inout UplinkConnectionState, now: Int64,
                        random: Double) async -> Bool {
        do {
            switch settlement.outcome {
            case .delivered: try await queue.markDelivered(settlement.sequence, by: uplink.name)
            case .rejected: try await queue.markRejected(settlement.sequence, by: uplink.name)
            }
            return true
        } catch {
            settleFailed("the spool cannot record batch \(settlement.sequence): \(error)", connection: &connection,
                         now: now, random: random)
            return false
        }
    }

    private func settleFailed(_ reason: String, connection: inout UplinkConnectionState, now: Int64, random: Double) {
        _ = connection.settleFailed(reason: reason, now: now, random: random)
        updateStatus(connection, now: now)
    }

    private func updateStatus(_ connection: UplinkConnectionState, now: Int64) {
        let wallNow = wallClock.nowNanos()
        let waiting = connection.nextAttempt > now
        status.withLock { status in
            status.phase = connection.phase
            status.consecutiveFailures = connection.failures
            status.lastError = connection.lastError
            status.nextAttempt = waiting ? UnixNanos.sum(wallNow, connection.nextAttempt - now) : nil
        }
    }
}

extension RandomNumberGenerator {
    /// A number in 0...1, for jitter.
    mutating func unit() -> Double { Double.random(in: 0...1, using: &self) }
}

/// Paces backlog batches: `rate` per second, bursting to one second's worth.
struct TokenBucket {
    let rate: Double
    private var tokens: Double
    private var updated: Int64?

    init(rate: Double) {
        self.rate = max(rate, 0.001)
        self.tokens = max(1, rate)
    }

    mutating func hasToken(now: Int64) -> Bool {
        refill(now: now)
        return tokens >= 1
    }

    mutating func take(now: Int64) {
        refill(now: now)
        tokens -= 1
    }

    func timeUntilToken(now: Int64) -> Duration {
        .nanoseconds(Int64(max(0, 1 - tokens) / rate * 1e9) + 1_000_000)
    }

    private mutating func refill(now: Int64) {
        if let updated, now > updated {
            tokens = min(max(1, rate), tokens + UnixNanos.seconds(now - updated) * rate)
        }
        updated = now
    }
}
