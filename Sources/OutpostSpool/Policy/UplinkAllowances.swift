import OutpostCore
import Synchronization

/// What each uplink may send now: the spool's policy applied to the live state it depends on (the bytes each uplink
/// has put on the wire in its budget periods, whether its link is metered, the local time zone). The spool service
/// asks it for every delivery plan, hands it the bytes the delivery loops report, and saves its ledger.
package final class UplinkAllowances: Sendable {
    package let policy: SpoolPolicy
    private let meteredLinks: MeteredLinks
    private let zone: @Sendable (Int64) -> TimeZoneRules
    private let state: Mutex<State>

    private struct State {
        var ledger: BudgetLedger
        /// When the ledger was last saved (wall-clock nanoseconds).
        var savedAt: Int64?
        /// The budget holds last seen per uplink and lane, to report each once.
        var budgetHolds: [String: [Lane: BudgetPeriodKind]] = [:]
        /// Bytes each uplink sent beyond its whole budget (alerts after the reserve), per current period.
        var overruns: [BudgetLedger.Key: (periodStart: Int64, bytes: Int64)] = [:]
    }

    /// A change worth an event: a lane started waiting for a budget, or a new period let it go again.
    package enum Change: Sendable, Equatable {
        case reached(uplink: String, lane: Lane, period: BudgetPeriodKind, spent: Int64, limit: Int64, renews: Int64)
        case renewed(uplink: String, lane: Lane, period: BudgetPeriodKind)
    }

    /// `zone` gives the local time zone's rules at a wall-clock time in nanoseconds (`SystemTimeZone` in production).
    package init(policy: SpoolPolicy, ledger: BudgetLedger = BudgetLedger(),
                 meteredLinks: MeteredLinks = MeteredLinks(),
                 zone: @escaping @Sendable (Int64) -> TimeZoneRules = { _ in .utc }) {
        self.policy = policy
        self.meteredLinks = meteredLinks
        self.zone = zone
        state = Mutex(State(ledger: ledger))
    }

    /// Whether `uplink`'s metered policy applies now.
    package func isMetered(_ uplink: String) -> Bool {
        switch (policy.holds[uplink] ?? UplinkHolding()).metered {
        case .always: true
        case .never: false
        // Until the first probe, assume the worst: a gateway starting on LTE must not spend freely.
        case .auto: meteredLinks.isMetered(uplink) ?? true
        }
    }

    /// The plan for `uplink` at `moment`, and the budget changes it brought (each reported once).
    package func plan(for uplink: String, at moment: DeliveryMoment) -> (plan: DeliveryPlan, changes: [Change]) {
        let conditions = self.conditions(for: uplink, at: moment.now)
        let plan = policy.plan(for: uplink, at: moment, conditions: conditions)
        let changes = state.withLock { state in noteBudgetHolds(plan, uplink: uplink, conditions: conditions, &state) }
        return (plan, changes)
    }

    /// `uplink` put `bytes` on the wire at `now`: counted in its current periods while its link is metered.
    package func spend(_ bytes: Int, by uplink: String, now: Int64) {
        guard bytes > 0, isMetered(uplink) else { return }
        let holding = policy.holds[uplink] ?? UplinkHolding()
        let zone = self.zone(now)
        let periods = Dictionary(uniqueKeysWithValues: BudgetPeriodKind.allCases.map { kind in
            (kind, holding.periodStart(kind, at: now, zone: zone))
        })
        state.withLock { state in
            for (kind, start) in periods {
                let before = state.ledger.spent(uplink: uplink, kind: kind, periodStart: start)
                guard let total = holding.budget.total(kind) else { continue }
                let beyond = max(0, before + Int64(bytes) - max(total, before))
                guard beyond > 0 else { continue }
                let key = BudgetLedger.Key(uplink: uplink, kind: kind)
                let previous = state.overruns[key].flatMap { $0.periodStart == start ? $0.bytes : nil } ?? 0
                state.overruns[key] = (start, previous + beyond)
            }
            state.ledger.spend(Int64(bytes), uplink: uplink, periods: periods)
        }
    }

    /// The ledger to save now, if it is due: unsaved spending of 1 % of the smallest budget, 10 minutes since the
    /// last save with anything unsaved, or `force` (at stop). A crash loses at most that much counting.
    package func ledgerToSave(now: Int64, force: Bool = false) -> BudgetLedger? {
        let smallest = policy.holds.values.compactMap { holding in
            BudgetPeriodKind.allCases.compactMap { holding.budget.total($0) }.min()
        }.min()
        return state.withLock { state -> BudgetLedger? in
            guard state.ledger.unsaved > 0 else { return nil }
            let bySize = smallest.map { state.ledger.unsaved * 100 >= $0 } ?? false
            let byTime = state.savedAt.map { abs(now - $0) >= 600 * 1_000_000_000 } ?? true
            // Without any budget the counts are only shown, never needed after a restart: kept in memory.
            guard force || bySize || (byTime && smallest != nil) else { return nil }
            return state.ledger
        }
    }

    /// The ledger was saved at `now` (with what it held then).
    package func saved(_ ledger: BudgetLedger, now: Int64) {
        state.withLock { state in
            state.savedAt = now
            if state.ledger.entries == ledger.entries { state.ledger.markSaved() }
        }
    }

    /// What `uplink` has spent and holds at `now`, for the status file and self-metrics.
    package func status(for uplink: String, now: Int64) -> AllowanceStatus {
        let holding = policy.holds[uplink] ?? UplinkHolding()
        let conditions = self.conditions(for: uplink, at: now)
        let moment = DeliveryMoment(now: now, liveSince: now, includeBacklog: true)
        let plan = policy.plan(for: uplink, at: moment, conditions: conditions)
        var budgets: [AllowanceStatus.Budget] = []
        for kind in BudgetPeriodKind.allCases {
            let start = holding.periodStart(kind, at: now, zone: conditions.zone)
            let overrun = state.withLock { state -> Int64 in
                guard let entry = state.overruns[BudgetLedger.Key(uplink: uplink, kind: kind)],
                    entry.periodStart == start else { return 0 }
                return entry.bytes
            }
            budgets.append(AllowanceStatus.Budget(
                period: kind, spent: conditions.spent[kind] ?? 0, limit: holding.budget.total(kind),
                periodStart: LocalTime.midnight(days: start, zone: conditions.zone),
                renews: holding.renewal(kind, at: now, zone: conditions.zone), overrun: overrun))
        }
        let window = holding.windows.windows.isEmpty ? nil : AllowanceStatus.Window(
            windows: holding.windows.description, open: holding.windows.isOpen(at: now, zone: conditions.zone),
            nextChange: holding.windows.nextChange(after: now, toOpen: !holding.windows.isOpen(at: now,
                                                                                              zone: conditions.zone),
                                                   zone: conditions.zone))
        return AllowanceStatus(metered: conditions.metered, budgets: budgets, window: window, held: plan.held,
                               zone: conditions.zone)
    }

    private func conditions(for uplink: String, at now: Int64) -> UplinkConditions {
        let holding = policy.holds[uplink] ?? UplinkHolding()
        let zone = self.zone(now)
        let spent = state.withLock { state in
            Dictionary(uniqueKeysWithValues: BudgetPeriodKind.allCases.map { kind in
                (kind, state.ledger.spent(uplink: uplink, kind: kind,
                                          periodStart: holding.periodStart(kind, at: now, zone: zone)))
            })
        }
        return UplinkConditions(metered: isMetered(uplink), zone: zone, spent: spent)
    }

    private func noteBudgetHolds(_ plan: DeliveryPlan, uplink: String, conditions: UplinkConditions,
                                 _ state: inout State) -> [Change] {
        let holding = policy.holds[uplink] ?? UplinkHolding()
        var now: [Lane: BudgetPeriodKind] = [:]
        var renewals: [Lane: Int64] = [:]
        for (lane, reason) in plan.held {
            if case .budgetSpent(let period, let renews) = reason {
                now[lane] = period
                renewals[lane] = renews
            }
        }
        let before = state.budgetHolds[uplink] ?? [:]
        guard before != now else { return [] }
        state.budgetHolds[uplink] = now
        var changes: [Change] = []
        for lane in [Lane.events, .metrics] {
            if let period = now[lane], before[lane] != period {
                changes.append(.reached(uplink: uplink, lane: lane, period: period,
                                        spent: conditions.spent[period] ?? 0,
                                        limit: holding.budget.limit(for: lane, period) ?? 0,
                                        renews: renewals[lane] ?? 0))
            } else if now[lane] == nil, let period = before[lane] {
                changes.append(.renewed(uplink: uplink, lane: lane, period: period))
            }
        }
        return changes
    }
}

/// One uplink's allowance as `outpost status` shows it.
package struct AllowanceStatus: Sendable, Equatable {
    package struct Budget: Sendable, Equatable {
        package let period: BudgetPeriodKind
        package let spent: Int64
        package let limit: Int64?
        /// When the current period began and when it renews (unix nanoseconds).
        package let periodStart: Int64
        package let renews: Int64
        /// Bytes sent beyond the whole budget in this period: alerts after the reserve, and the part of the batch
        /// that passed the limit.
        package let overrun: Int64
    }

    package struct Window: Sendable, Equatable {
        package let windows: String
        package let open: Bool
        package let nextChange: Int64?
    }

    package let metered: Bool
    package let budgets: [Budget]
    package let window: Window?
    package let held: [Lane: HoldReason]
    /// The local time zone the windows and budget periods are read in.
    package let zone: TimeZoneRules

    /// `unixNanos` as local wall time with its offset (`2026-12-07T01:00:00+01:00`).
    package func local(_ unixNanos: Int64) -> String {
        RFC3339.format(unixNanos, offsetSeconds: zone.offset(at: unixNanos / 1_000_000_000))
    }
}
