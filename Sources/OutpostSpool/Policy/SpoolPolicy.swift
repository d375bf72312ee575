import OutpostCore

/// The spool's one policy: the order batches leave in, which batches go when the spool is full, and what an uplink
/// holds back (budgets, sync windows) — asked by the SQLite queue, the staged batches and the memory queue alike, so
/// that none of them keeps a rule of its own (Vector's `WhenFull`, Telegraf's shared buffer interface).
///
/// - Order: alerts first (any age, oldest first); then live batches (younger than the delivery loop's live window),
///   events before metrics, oldest first; then, when the delivery loop's pacing allows, the backlog, events before
///   metrics, in the uplink's `drain_order`.
/// - Eviction: when the bound is reached, the oldest metrics go first, then the oldest events, alerts only when
///   nothing else is left.
/// - Holding: while an uplink's link is metered, outside its sync windows only alerts (and, if configured, events)
///   leave; as a budget runs short metrics wait first, events next, alerts never. What waits stays in the spool,
///   under its bound.
package struct SpoolPolicy: Sendable, Equatable {
    package var eviction = EvictionRule()
    /// Each uplink's holding rules, by name; an uplink not named holds nothing back.
    package var holds: [String: UplinkHolding] = [:]

    package init(holds: [String: UplinkHolding] = [:]) {
        self.holds = holds
    }

    /// The plan for `uplink` at `moment`, given what it spent and whether its link is metered now.
    package func plan(for uplink: String, at moment: DeliveryMoment, conditions: UplinkConditions = UplinkConditions())
        -> DeliveryPlan
    {
        let holding = holds[uplink] ?? UplinkHolding()
        let held = conditions.metered ? holding.held(at: moment.now, conditions: conditions) : [:]
        let open = Set(Lane.allCases).subtracting(held.keys).subtracting([.alerts])
        var steps = [DeliveryStep(lanes: [.alerts])]
        if !open.isEmpty {
            steps.append(DeliveryStep(lanes: open, createdSince: moment.liveSince))
            if moment.includeBacklog { steps.append(DeliveryStep(lanes: open, order: holding.drainOrder)) }
        }
        return DeliveryPlan(steps: steps, held: held)
    }

    /// The plan that lists every batch in sending order (`outpost spool inspect`, `export`): alerts, events,
    /// metrics, oldest first.
    package static let listing = DeliveryPlan(steps: [DeliveryStep(lanes: Set(Lane.allCases))])
}

/// When a delivery loop asks: the wall clock, where live batches begin, and whether its pacing admits the backlog.
package struct DeliveryMoment: Sendable, Equatable {
    package var now: Int64
    package var liveSince: Int64
    package var includeBacklog: Bool

    package init(now: Int64, liveSince: Int64, includeBacklog: Bool) {
        self.now = now
        self.liveSince = liveSince
        self.includeBacklog = includeBacklog
    }
}

/// What a plan depends on besides the settings: is the link metered now, the local time zone, and what the uplink
/// has spent in its current periods.
package struct UplinkConditions: Sendable, Equatable {
    package var metered: Bool
    package var zone: TimeZoneRules
    /// Bytes spent in the current period of each budget.
    package var spent: [BudgetPeriodKind: Int64]

    package init(metered: Bool = true, zone: TimeZoneRules = .utc, spent: [BudgetPeriodKind: Int64] = [:]) {
        self.metered = metered
        self.zone = zone
        self.spent = spent
    }
}

/// One uplink's holding rules, from its config table: `daily_bytes`, `monthly_bytes`, `billing_day`, the reserves,
/// `sync_windows`, `events_outside_windows`, `drain_order` and `metered`.
package struct UplinkHolding: Sendable, Equatable {
    package var budget = ByteBudget()
    package var windows = SyncWindows([])
    /// `events_outside_windows`, default false: events leave outside the windows too (alerts always do).
    package var eventsOutsideWindows = false
    package var drainOrder = DrainOrder.oldestFirst
    package var metered = MeteredMode.always

    package init() {}

    /// Whether anything is ever held (a budget or windows).
    package var restricts: Bool { !budget.isEmpty || !windows.windows.isEmpty }

    /// The lanes held at `now` and why: the window first (it says when data moves again), then the budgets.
    package func held(at now: Int64, conditions: UplinkConditions) -> [Lane: HoldReason] {
        var held: [Lane: HoldReason] = [:]
        if !windows.isOpen(at: now, zone: conditions.zone) {
            let reason = HoldReason.outsideSyncWindow(opens: windows.nextChange(after: now, toOpen: true,
                                                                                zone: conditions.zone))
            held[.metrics] = reason
            if !eventsOutsideWindows { held[.events] = reason }
        }
        for kind in BudgetPeriodKind.allCases {
            let spent = conditions.spent[kind] ?? 0
            for lane in [Lane.events, .metrics] where held[lane] == nil {
                guard let limit = budget.limit(for: lane, kind), spent >= limit else { continue }
                held[lane] = .budgetSpent(period: kind, renews: renewal(kind, at: now, zone: conditions.zone))
            }
        }
        return held
    }

    /// When the `kind` period holding `now` ends (unix nanoseconds).
    package func renewal(_ kind: BudgetPeriodKind, at now: Int64, zone: TimeZoneRules) -> Int64 {
        let start = budget.periodStart(kind, containing: LocalTime(unixNanos: now, zone: zone).days)
        return LocalTime.midnight(days: budget.nextPeriodStart(kind, after: start), zone: zone)
    }

    /// The local date the current `kind` period began, at `now`.
    package func periodStart(_ kind: BudgetPeriodKind, at now: Int64, zone: TimeZoneRules) -> Int64 {
        budget.periodStart(kind, containing: LocalTime(unixNanos: now, zone: zone).days)
    }
}

/// `metered`: whether an uplink's budget and windows (and aggregation) apply.
package enum MeteredMode: Sendable, Equatable {
    /// `true` (the default): always.
    case always
    /// `false`: never (counted, never held).
    case never
    /// `"auto"`: while the default route leaves through an interface matching one of these globs (`wwan*`, `ppp*`,
    /// `usb*` by default), or NetworkManager marks the connection metered.
    case auto(interfaces: [String])

    package static let defaultInterfaces = ["wwan*", "ppp*", "usb*"]
}

/// Which batches give way when the spool is full: lanes in the order they lose batches, oldest first within each.
///
/// A new batch may displace batches of its own lane or of less important ones, oldest first; never more important
/// ones. When it cannot fit that way, it is the one dropped (and counted): a full spool of alerts keeps its alerts
/// rather than take in metrics, as "never alerts while anything else can go" asks.
package struct EvictionRule: Sendable, Equatable {
    package var victims: [Lane] = [.metrics, .events, .alerts]

    package init() {}

    /// The lanes a new batch of `lane` may displace, in the order they give way.
    package func displaceable(by lane: Lane) -> [Lane] {
        guard let position = victims.firstIndex(of: lane) else { return [] }
        return Array(victims[...position])
    }

    /// What admitting `incoming` into `existing` (oldest first) under `bound` takes: the indices of `existing` to
    /// drop, oldest first within each lane in `victims` order, or `admitted == false` (nothing dropped) when it
    /// cannot fit by displacing what it may. Each batch weighs `size(batch)`.
    package func admit(_ incoming: Batch, into existing: [Batch], bound: Int, size: (Batch) -> Int)
        -> (victims: [Int], admitted: Bool)
    {
        let weight = size(incoming)
        guard weight <= bound else { return ([], false) }
        var need = existing.reduce(0) { $0 + size($1) } + weight - bound
        guard need > 0 else { return ([], true) }
        let lanes = displaceable(by: incoming.lane)
        let available = existing.filter { lanes.contains($0.lane) }.reduce(0) { $0 + size($1) }
        guard available >= need else { return ([], false) }
        var chosen: [Int] = []
        for lane in lanes {
            for index in existing.indices where need > 0 && existing[index].lane == lane {
                need -= size(existing[index])
                chosen.append(index)
            }
        }
        return (chosen, true)
    }
}
