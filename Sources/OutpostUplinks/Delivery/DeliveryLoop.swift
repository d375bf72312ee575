import OutpostCore
import OutpostSpool
import Synchronization

/// The spool as a delivery loop sees it. The runtime's spool service implements it on the spool's own thread.
public protocol DeliveryQueue: Sendable {
    /// The next batch for `uplink`: alerts first (any age), then live batches (created at or after `liveSince`),
    /// then, when `includeBacklog`, the oldest of the rest, first in first out.
    func nextBatch(for uplink: String, now: Int64, liveSince: Int64, includeBacklog: Bool) async -> SpooledBatch?
    func markDelivered(_ sequence: Int64, by uplink: String) async
    func markDeferred(_ sequence: Int64, by uplink: String, until nextAttempt: Int64, error: String) async
    func markRejected(_ sequence: Int64, by uplink: String) async
}

/// How a delivery loop paces itself.
public struct DeliverySettings: Sendable, Equatable {
    public var backoff = BackoffPolicy()
    /// Backlog batches (older than `liveWindow`) sent per second at most, so a long outage's backlog drains in the
    /// background without starving live data or saturating a metered link. Default 5.
    public var drainRate = 5.0
    /// Batches younger than this are live and go before the backlog. Default 1 min.
    public var liveWindow: Duration = .seconds(60)
    /// With nothing to send, look again after this long even without a wake-up. Default 30 s.
    public var idleRecheck: Duration = .seconds(30)

    public init() {}
}

/// What an uplink reports about itself, for the status file.
public struct UplinkStatus: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var endpoint: String
    public var phase = UplinkConnectionState.Phase.starting
    public var consecutiveFailures = 0
    public var lastError: String?
    public var lastDelivery: Int64?
    public var nextAttempt: Int64?
    public var deliveredBatches = 0
    public var deliveredItems = 0
    public var deliveredBytes = 0
    public var rejectedBatches = 0
    public var retries = 0

    public init(name: String, kind: String, endpoint: String) {
        self.name = name
        self.kind = kind
        self.endpoint = endpoint
    }
}

/// Something a delivery loop wants the operator to know.
public enum DeliveryReport: Sendable {
    case transition(UplinkConnectionState.Transition)
    case rejected(batch: Batch, reason: String)
}

/// Drains the spool through one uplink: the one place where retries, backoff, pacing and drops live.
///
/// Alerts go first; live batches before the backlog; the backlog oldest-first at `drainRate`. A retryable failure
/// backs the whole uplink off (the receiver is down or overloaded, so the next batch would fail too) and defers
/// the batch in the spool; a permanent rejection drops that batch for this uplink, counted and reported.
public final class DeliveryLoop: Sendable {
    public let uplink: any Uplink
    private let queue: any DeliveryQueue
    private let signal: WakeSignal
    private let settings: DeliverySettings
    private let clock: any Clock<Duration>
    private let wallClock: any WallClock
    private let report: @Sendable (DeliveryReport) -> Void
    public let status: Mutex<UplinkStatus>

    public init(uplink: any Uplink, endpoint: String, kind: String, queue: any DeliveryQueue, signal: WakeSignal,
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
    }

    /// Runs until the task is cancelled.
    public func run() async {
        await Self.loop(self, clock: clock)
    }

    private static func loop<C: Clock<Duration>>(_ loop: DeliveryLoop, clock: C) async {
        var connection = UplinkConnectionState(policy: loop.settings.backoff)
        var bucket = TokenBucket(rate: loop.settings.drainRate)
        var random = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            let now = loop.wallClock.nowNanos()
            if connection.phase == .backingOff, now < connection.nextAttempt {
                try? await clock.sleep(for: .nanoseconds(connection.nextAttempt - now), tolerance: nil)
                continue
            }
            let backlogAllowed = bucket.hasToken(now: now)
            let liveSince = now - UnixNanos.from(loop.settings.liveWindow)
            guard let next = await loop.queue.nextBatch(for: loop.uplink.name, now: now, liveSince: liveSince,
                                                        includeBacklog: backlogAllowed)
            else {
                let wait = backlogAllowed ? loop.settings.idleRecheck : bucket.timeUntilToken(now: now)
                await loop.signal.wait(upTo: wait, clock: clock)
                continue
            }
            if next.batch.lane != .alerts, next.batch.created < liveSince { bucket.take(now: now) }
            let result = await loop.uplink.deliver(next.batch)
            await loop.settle(next, result: result, connection: &connection,
                              random: Double.random(in: 0...1, using: &random))
        }
    }

    private func settle(_ spooled: SpooledBatch, result: DeliveryResult, connection: inout UplinkConnectionState,
                        random: Double) async {
        let now = wallClock.nowNanos()
        switch result {
        case .delivered:
            await queue.markDelivered(spooled.sequence, by: uplink.name)
            if let transition = connection.delivered() { report(.transition(transition)) }
            status.withLock { status in
                status.deliveredBatches += 1
                status.deliveredItems += spooled.batch.items
                status.deliveredBytes += spooled.batch.payload.count
                status.lastDelivery = now
            }
        case .retry(let after, let reason):
            let (nextAttempt, transition) = connection.failed(reason: reason, retryAfter: after, now: now, random: random)
            await queue.markDeferred(spooled.sequence, by: uplink.name, until: nextAttempt, error: reason)
            if let transition { report(.transition(transition)) }
            status.withLock { $0.retries += 1 }
        case .rejected(let reason):
            await queue.markRejected(spooled.sequence, by: uplink.name)
            connection.rejected(reason: reason)
            report(.rejected(batch: spooled.batch, reason: reason))
            status.withLock { $0.rejectedBatches += 1 }
        }
        status.withLock { status in
            status.phase = connection.phase
            status.consecutiveFailures = connection.failures
            status.lastError = connection.lastError
            status.nextAttempt = connection.phase == .backingOff ? connection.nextAttempt : nil
        }
    }
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
