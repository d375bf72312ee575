import OutpostCore

/// Which budget: `daily_bytes` renews at local midnight, `monthly_bytes` at local midnight of the billing day.
package enum BudgetPeriodKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case daily
    case monthly

    package var description: String { rawValue }
}

/// `daily_bytes`, `monthly_bytes`, `billing_day`, `alert_reserve`, `event_reserve`: how many bytes an uplink may put
/// on the wire per period while its link is metered, and how the end of a budget is shared.
///
/// Bytes are counted as they go on the wire: HTTP request and response headers and bodies, MQTT PUBLISH and PUBACK
/// packets (not TCP/IP or TLS framing, which the carrier also bills: leave a margin). As a budget runs short, metrics
/// stop first (at the limit less both reserves), events next (less the alert reserve); alerts always go, and only
/// they may spend the reserve or, once it is gone, beyond the budget (each overrun is in the status). A batch starts
/// while its lane is under its limit, so a limit is passed by at most one batch.
package struct ByteBudget: Sendable, Equatable {
    package var daily: Int64?
    package var monthly: Int64?
    /// 1…31: the day of the month the monthly budget renews; in a shorter month, its last day. Default 1.
    package var billingDay = 1
    /// Kept for alerts alone at the end of each budget. Default 5 %.
    package var alertReserve = BudgetShare.percent(5)
    /// Kept for events (and alerts) before it. Default 5 %.
    package var eventReserve = BudgetShare.percent(5)

    package init(daily: Int64? = nil, monthly: Int64? = nil, billingDay: Int = 1) {
        self.daily = daily
        self.monthly = monthly
        self.billingDay = billingDay
    }

    package var isEmpty: Bool { daily == nil && monthly == nil }

    package func total(_ kind: BudgetPeriodKind) -> Int64? {
        switch kind {
        case .daily: daily
        case .monthly: monthly
        }
    }

    /// What `lane` may have spent in a `kind` period before it waits; nil: no limit (alerts, or no such budget).
    package func limit(for lane: Lane, _ kind: BudgetPeriodKind) -> Int64? {
        guard let total = total(kind) else { return nil }
        switch lane {
        case .alerts: return nil
        case .events: return max(0, total - alertReserve.bytes(of: total))
        case .metrics: return max(0, total - alertReserve.bytes(of: total) - eventReserve.bytes(of: total))
        }
    }

    /// The local date (days since 1970-01-01) on which the `kind` period holding local date `days` began.
    package func periodStart(_ kind: BudgetPeriodKind, containing days: Int64) -> Int64 {
        guard kind == .monthly else { return days }
        let date = CivilCalendar.date(days: days)
        let (year, month, day) = (Int(date.year), Int(date.month), Int(date.day))
        let thisMonth = billingDate(year: year, month: month)
        if day >= thisMonth { return CivilCalendar.days(year: year, month: month, day: thisMonth) }
        let (previousYear, previousMonth) = month == 1 ? (year - 1, 12) : (year, month - 1)
        return CivilCalendar.days(year: previousYear, month: previousMonth,
                                  day: billingDate(year: previousYear, month: previousMonth))
    }

    /// The local date the `kind` period after the one starting on `start` begins.
    package func nextPeriodStart(_ kind: BudgetPeriodKind, after start: Int64) -> Int64 {
        guard kind == .monthly else { return start + 1 }
        let date = CivilCalendar.date(days: start)
        let (year, month) = date.month == 12 ? (Int(date.year) + 1, 1) : (Int(date.year), Int(date.month) + 1)
        return CivilCalendar.days(year: year, month: month, day: billingDate(year: year, month: month))
    }

    private func billingDate(year: Int, month: Int) -> Int {
        min(billingDay, CalendarMonths.length(of: month, in: year))
    }
}

/// A reserve: a number of bytes, or a share of the budget it is kept in.
package enum BudgetShare: Sendable, Equatable, CustomStringConvertible {
    case bytes(Int64)
    case percent(Double)

    package func bytes(of total: Int64) -> Int64 {
        switch self {
        case .bytes(let bytes): min(bytes, total)
        case .percent(let percent): Int64((Double(total) * percent / 100).rounded(.down))
        }
    }

    package var description: String {
        switch self {
        case .bytes(let bytes): "\(bytes) B"
        case .percent(let percent): "\(percent) %"
        }
    }
}

/// What each uplink has spent in its current budget periods: counted as bytes go on the wire, kept in the spool
/// (table `budgets`) so a restart mid-month does not start the month afresh.
///
/// A period is named by the local date it began on. Spending in a later period starts it afresh; a wall clock stepped
/// back into an earlier period keeps counting in the later one (never a free second budget).
package struct BudgetLedger: Sendable, Equatable {
    package struct Spend: Sendable, Equatable {
        /// Local date (days since 1970-01-01) the period began.
        package var periodStart: Int64
        package var bytes: Int64

        package init(periodStart: Int64, bytes: Int64) {
            self.periodStart = periodStart
            self.bytes = bytes
        }
    }

    package struct Key: Sendable, Hashable {
        package let uplink: String
        package let kind: BudgetPeriodKind

        package init(uplink: String, kind: BudgetPeriodKind) {
            self.uplink = uplink
            self.kind = kind
        }
    }

    package private(set) var entries: [Key: Spend] = [:]
    /// Bytes counted since the ledger was last saved.
    package private(set) var unsaved: Int64 = 0

    package init(entries: [Key: Spend] = [:]) {
        self.entries = entries
    }

    /// Adds `bytes` to the current period of each kind (`periods`: kind → the local date it began).
    package mutating func spend(_ bytes: Int64, uplink: String, periods: [BudgetPeriodKind: Int64]) {
        for (kind, periodStart) in periods {
            let key = Key(uplink: uplink, kind: kind)
            if let current = entries[key], current.periodStart >= periodStart {
                entries[key]?.bytes += bytes
            } else {
                entries[key] = Spend(periodStart: periodStart, bytes: bytes)
            }
        }
        unsaved += bytes
    }

    /// Adds `bytes` to the period of `kind` that began on `periodStart`.
    package mutating func spend(_ bytes: Int64, uplink: String, kind: BudgetPeriodKind, periodStart: Int64) {
        spend(bytes, uplink: uplink, periods: [kind: periodStart])
    }

    /// What `uplink` spent in the `kind` period that began on `periodStart` (or in a later one the clock stepped
    /// back from).
    package func spent(uplink: String, kind: BudgetPeriodKind, periodStart: Int64) -> Int64 {
        guard let current = entries[Key(uplink: uplink, kind: kind)], current.periodStart >= periodStart else {
            return 0
        }
        return current.bytes
    }

    package mutating func markSaved() {
        unsaved = 0
    }
}
