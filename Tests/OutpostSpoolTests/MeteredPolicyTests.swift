import Foundation
import Logging
import OutpostCore
import OutpostTestSupport
import ServiceLifecycle
import Testing
@testable import OutpostSpool

private let berlin = SystemTimeZone.load("/usr/share/zoneinfo/Europe/Berlin")!

/// Unix nanoseconds of a UTC wall time.
private func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0) -> Int64 {
    (CivilCalendar.days(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60))
        * 1_000_000_000
}

private func window(_ text: String) throws -> SyncWindows.Window {
    try SyncWindows.parse(text).get()
}

private func holding(windows: [String] = [], daily: Int64? = nil, monthly: Int64? = nil, billingDay: Int = 1,
                     eventsOutside: Bool = false) throws -> UplinkHolding {
    var holding = UplinkHolding()
    holding.windows = SyncWindows(try windows.map(window))
    holding.budget = ByteBudget(daily: daily, monthly: monthly, billingDay: billingDay)
    holding.eventsOutsideWindows = eventsOutside
    return holding
}

private func held(_ holding: UplinkHolding, at now: Int64, zone: TimeZoneRules = .utc,
                  spent: [BudgetPeriodKind: Int64] = [:]) -> Set<Lane> {
    Set(holding.held(at: now, conditions: UplinkConditions(zone: zone, spent: spent)).keys)
}

@Suite("Sync windows: local time, across midnight, through daylight saving changes")
struct SyncWindowTests {
    @Test("a window across midnight is open late at night and early in the morning, closed in between")
    func acrossMidnight() throws {
        let night = try holding(windows: ["22:00-06:00"])
        for (hour, minute, open) in [(22, 0, true), (23, 59, true), (0, 0, true), (5, 59, true), (6, 0, false),
                                     (12, 0, false), (21, 59, false)] {
            #expect(held(night, at: utc(2026, 6, 1, hour, minute)).isEmpty == open, "\(hour):\(minute)")
        }
        #expect(held(night, at: utc(2026, 6, 1, 12)) == [.events, .metrics])
    }

    @Test("alerts are never held; events are sent outside the windows when configured")
    func whatGoesOutside() throws {
        let policy = SpoolPolicy(holds: ["lte": try holding(windows: ["01:00-05:00"], eventsOutside: true)])
        let noon = DeliveryMoment(now: utc(2026, 6, 1, 12), liveSince: 0, includeBacklog: true)
        let plan = policy.plan(for: "lte", at: noon)
        #expect(plan.steps.map(\.lanes) == [[.alerts], [.events], [.events]])
        #expect(Set(plan.held.keys) == [.metrics])
        #expect(policy.plan(for: "lte", at: noon, conditions: UplinkConditions(metered: false)).held.isEmpty,
                "not metered now: nothing is held")
        #expect(policy.plan(for: "ethernet", at: noon).held.isEmpty, "an uplink without rules holds nothing")
    }

    @Test("in Europe/Berlin, 01:00-05:00 lasts 3 hours the night clocks go forward and 5 the night they go back")
    func daylightSavingNights() throws {
        let night = try holding(windows: ["01:00-05:00"])
        func openMinutes(from start: Int64) -> Int {
            (0..<(24 * 60)).filter { held(night, at: start + Int64($0) * 60_000_000_000, zone: berlin).isEmpty }.count
        }
        // From noon UTC the day before to noon UTC the day after the change.
        #expect(openMinutes(from: utc(2026, 3, 28, 12)) == 180)
        #expect(openMinutes(from: utc(2026, 10, 24, 12)) == 300)
        #expect(openMinutes(from: utc(2026, 6, 6, 12)) == 240)
        // In UTC, the window opens an hour earlier in summer than in winter.
        #expect(held(night, at: utc(2026, 6, 7, 23, 0), zone: berlin).isEmpty)
        #expect(!held(night, at: utc(2026, 1, 7, 23, 0), zone: berlin).isEmpty)
        #expect(held(night, at: utc(2026, 1, 8, 0, 0), zone: berlin).isEmpty)
    }

    @Test("a window starting in the hour the clocks skip opens when the hour ends; the status says when")
    func skippedHour() throws {
        let early = try holding(windows: ["02:30-04:00"])
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC; 03:00 CEST is inside 02:30-04:00.
        #expect(!held(early, at: utc(2026, 3, 29, 0, 59), zone: berlin).isEmpty)
        #expect(held(early, at: utc(2026, 3, 29, 1, 0), zone: berlin).isEmpty)
        #expect(early.windows.nextChange(after: utc(2026, 3, 28, 20), toOpen: true, zone: berlin)
            == utc(2026, 3, 29, 1, 0))
        let reason = early.held(at: utc(2026, 3, 28, 20), conditions: UplinkConditions(zone: berlin))[.metrics]
        #expect(reason == .outsideSyncWindow(opens: utc(2026, 3, 29, 1, 0)))
    }

    @Test("windows that cannot be read are refused with what to write instead")
    func parsing() {
        for good in ["01:00-05:00", "22:00-06:00", "00:00-24:00", "23:30-00:15"] {
            #expect((try? SyncWindows.parse(good).get()) != nil, "\(good)")
        }
        for bad in ["1:00-5:00", "01:00", "25:00-01:00", "01:60-02:00", "01:00-01:00", "24:00-01:00", "ab:cd-01:00"] {
            #expect((try? SyncWindows.parse(bad).get()) == nil, "\(bad)")
        }
    }
}

@Suite("Byte budgets: reserves, billing days, restarts")
struct ByteBudgetTests {
    @Test("as a budget runs short metrics wait first, events next, alerts never")
    func lanesInOrder() throws {
        let monthly = try holding(monthly: 100_000)
        let now = utc(2026, 6, 10, 12)
        #expect(held(monthly, at: now, spent: [.monthly: 89_999]).isEmpty)
        #expect(held(monthly, at: now, spent: [.monthly: 90_000]) == [.metrics], "5 % events + 5 % alerts reserved")
        #expect(held(monthly, at: now, spent: [.monthly: 95_000]) == [.events, .metrics])
        #expect(held(monthly, at: now, spent: [.monthly: 500_000]) == [.events, .metrics], "alerts still go")
        var reserves = try holding(daily: 10_000)
        reserves.budget.alertReserve = .bytes(1000)
        reserves.budget.eventReserve = .percent(0)
        #expect(held(reserves, at: now, spent: [.daily: 9_000]) == [.events, .metrics])
    }

    @Test("the monthly budget renews at local midnight of the billing day; day 31 means the month's last day")
    func billingDays() throws {
        let budget = ByteBudget(monthly: 1, billingDay: 31)
        func start(_ year: Int, _ month: Int, _ day: Int) -> (Int, Int, Int) {
            let days = budget.periodStart(.monthly, containing: CivilCalendar.days(year: year, month: month, day: day))
            let date = CivilCalendar.date(days: days)
            return (Int(date.year), Int(date.month), Int(date.day))
        }
        #expect(start(2026, 2, 27) == (2026, 1, 31))
        #expect(start(2026, 2, 28) == (2026, 2, 28))
        #expect(start(2024, 2, 28) == (2024, 1, 31))
        #expect(start(2024, 2, 29) == (2024, 2, 29))
        #expect(start(2026, 3, 30) == (2026, 2, 28))
        #expect(start(2026, 3, 31) == (2026, 3, 31))
        #expect(start(2027, 1, 5) == (2026, 12, 31))
        let fifteenth = try holding(monthly: 1_000_000, billingDay: 15)
        // 2026-06-15 00:00 in Berlin is 2026-06-14 22:00 UTC.
        #expect(fifteenth.renewal(.monthly, at: utc(2026, 6, 1), zone: berlin) == utc(2026, 6, 14, 22))
        #expect(fifteenth.renewal(.monthly, at: utc(2026, 6, 14, 22), zone: berlin) == utc(2026, 7, 14, 22))
    }

    @Test("spending on an injected clock: held before the billing day's midnight, free again after it, reported once")
    func renewalOnTheClock() throws {
        let policy = SpoolPolicy(holds: ["lte": try holding(monthly: 100_000, billingDay: 15)])
        let allowances = UplinkAllowances(policy: policy, zone: { _ in berlin })
        let before = utc(2026, 6, 14, 21, 59)
        allowances.spend(92_000, by: "lte", now: utc(2026, 6, 14, 12))
        let moment = { (now: Int64) in DeliveryMoment(now: now, liveSince: now, includeBacklog: true) }
        let first = allowances.plan(for: "lte", at: moment(before))
        #expect(Set(first.plan.held.keys) == [.metrics])
        #expect(first.changes == [.reached(uplink: "lte", lane: .metrics, period: .monthly, spent: 92_000,
                                           limit: 90_000, renews: utc(2026, 6, 14, 22))])
        #expect(allowances.plan(for: "lte", at: moment(before)).changes.isEmpty, "reported once")
        let after = allowances.plan(for: "lte", at: moment(utc(2026, 6, 14, 22)))
        #expect(after.plan.held.isEmpty)
        #expect(after.changes == [.renewed(uplink: "lte", lane: .metrics, period: .monthly)])
        // A clock stepped back into the old period keeps counting in the new one: no second budget.
        allowances.spend(1_000, by: "lte", now: utc(2026, 6, 15, 1))
        allowances.spend(500, by: "lte", now: utc(2026, 6, 14, 12))
        #expect(allowances.status(for: "lte", now: utc(2026, 6, 15, 2)).budgets.first { $0.period == .monthly }?.spent
            == 1_500)
    }

    @Test("a daily budget renews at each local midnight, also on the day the clocks go forward")
    func dailyAcrossDaylightSaving() throws {
        let policy = SpoolPolicy(holds: ["lte": try holding(daily: 20_000)])
        let allowances = UplinkAllowances(policy: policy, zone: { _ in berlin })
        allowances.spend(19_000, by: "lte", now: utc(2026, 3, 28, 20))
        let moment = { (now: Int64) in DeliveryMoment(now: now, liveSince: now, includeBacklog: true) }
        #expect(Set(allowances.plan(for: "lte", at: moment(utc(2026, 3, 28, 22, 59))).plan.held.keys)
            == [.events, .metrics])
        // 2026-03-29 00:00 CET = 2026-03-28 23:00 UTC.
        #expect(allowances.plan(for: "lte", at: moment(utc(2026, 3, 28, 23))).plan.held.isEmpty)
        allowances.spend(19_000, by: "lte", now: utc(2026, 3, 29, 12))
        // 2026-03-30 00:00 CEST = 2026-03-29 22:00 UTC: the short day renews after 23 hours.
        #expect(!allowances.plan(for: "lte", at: moment(utc(2026, 3, 29, 21, 59))).plan.held.isEmpty)
        #expect(allowances.plan(for: "lte", at: moment(utc(2026, 3, 29, 22))).plan.held.isEmpty)
    }

    @Test("what was spent survives a restart mid-month, and a new month starts afresh")
    func restartMidMonth() async throws {
        let state = try temporaryStateDirectory()
        let policy = SpoolPolicy(holds: ["lte": try holding(monthly: 1_000_000)])
        let wall = ManualWallClock(start: utc(2026, 6, 10, 12))
        func open() async throws -> SpoolService {
            try await SpoolService.open(SpoolConfiguration(path: state + "/spool.db", stateDirectory: state),
                                        destinations: otlp("lte"), policy: policy, events: EventCollector(),
                                        counters: PipelineCounters(inputCount: 0, startedAt: 0), clock: ManualClock(),
                                        wallClock: wall, logger: quietLogger)
        }
        let first = try await open()
        let group = ServiceGroup(services: [first], logger: quietLogger)
        let running = Task { try await group.run() }
        await first.spent(950_000, by: "lte", now: wall.nowNanos())
        await group.triggerGracefulShutdown()
        try await running.value
        let second = try await open()
        let status = second.allowances.status(for: "lte", now: wall.nowNanos())
        #expect(status.budgets.first { $0.period == .monthly }?.spent == 950_000)
        #expect(Set(status.held.keys) == [.events, .metrics])
        await second.write([storeBatch(.metrics)])
        #expect(await second.nextBatch(for: "lte", now: wall.nowNanos(), liveSince: 0, includeBacklog: true) == nil,
                "the metrics wait")
        let july = utc(2026, 7, 1, 0, 1)
        #expect(second.allowances.status(for: "lte", now: july).budgets.first { $0.period == .monthly }?.spent == 0)
        #expect(await second.nextBatch(for: "lte", now: july, liveSince: 0, includeBacklog: true) != nil)
    }

    @Test("the ledger is saved once 1 % of the smallest budget is unsaved, else every 10 minutes, and at stop")
    func savingCadence() throws {
        let policy = SpoolPolicy(holds: ["lte": try holding(daily: 100_000, monthly: 1_000_000)])
        let allowances = UplinkAllowances(policy: policy)
        let now = utc(2026, 6, 10, 12)
        allowances.spend(500, by: "lte", now: now)
        #expect(allowances.ledgerToSave(now: now) != nil, "never saved: the first save is due")
        allowances.saved(try #require(allowances.ledgerToSave(now: now)), now: now)
        allowances.spend(999, by: "lte", now: now)
        #expect(allowances.ledgerToSave(now: now) == nil)
        #expect(allowances.ledgerToSave(now: now, force: true) != nil)
        allowances.spend(1, by: "lte", now: now)
        #expect(allowances.ledgerToSave(now: now) != nil, "1,000 bytes = 1 % of the daily budget")
        allowances.saved(try #require(allowances.ledgerToSave(now: now)), now: now)
        allowances.spend(10, by: "lte", now: now)
        #expect(allowances.ledgerToSave(now: now + 599 * 1_000_000_000) == nil)
        #expect(allowances.ledgerToSave(now: now + 600 * 1_000_000_000) != nil)
    }

    @Test("a damaged spool's budgets are salvaged with its batches")
    func salvagedBudgets() throws {
        let state = try temporaryStateDirectory()
        let old = try SQLiteSpool(path: state + "/old.db", maxBytes: 1 << 20, destinations: otlp("lte"))
        var ledger = BudgetLedger()
        ledger.spend(123_456, uplink: "lte", kind: .monthly, periodStart: 20_000)
        try old.saveBudgets(ledger)
        old.close()
        let fresh = try SQLiteSpool(path: state + "/spool.db", maxBytes: 1 << 20, destinations: otlp("lte"))
        _ = fresh.salvage(from: state + "/old.db")
        #expect(try fresh.budgets().spent(uplink: "lte", kind: .monthly, periodStart: 20_000) == 123_456)
    }
}
