import OutpostCore

/// A series' normal value for each half hour of the day (UTC), learned online, and whether it explains the series
/// better than the moving baseline does.
///
/// Each of the 48 slots keeps an exponentially weighted mean and variance that remember about a week of that half
/// hour. After `seasonal_learning` (2 days), every sample is also compared with its slot's mean and with the moving
/// baseline's: when the profile's mean squared residual is under half the baseline's (a daily cycle that the baseline
/// only follows late: day and night, shifts, a heating schedule), the profile judges the series (`seasonality =
/// "auto"`). A slot's deviation is the larger of its own and half the profile's typical residual, so a slot seen few
/// times cannot make a narrow band.
///
/// Weekends get a profile of their own where the data show a weekly cycle: after two weeks, when the samples of
/// Saturdays and Sundays sit more than twice as far from the profile as weekdays' do (an office, a shop, demand),
/// a second set of 48 slots starts from the first and learns the weekend alone. A holiday on a weekday then stands
/// out against the weekday profile instead of hiding in a band widened by weekends.
///
/// Decision: slots and days are UTC, not local time; a daylight-saving change shifts a local schedule by one slot
/// for a week while the slots relearn, which costs less than a time-zone database on every gateway. Seven
/// day-of-week profiles are left out: seven times the memory for a difference most weekly cycles draw between
/// working days and the weekend.
///
/// Memory: 48 × (mean, variance) as Float plus a count each, about 0.6 KiB per series, twice that with a weekend
/// profile. Source: Holt–Winters style seasonal indices (Winters 1960), kept per slot instead of smoothed across
/// slots.
struct SeasonalProfile: Sendable {
    static let slotCount = 48
    private static let day: Int64 = 86_400 * 1_000_000_000
    private static let slotLength = day / Int64(slotCount)

    /// One half hour's learned mean and variance, and how many samples it has seen (12 bytes).
    private struct Slot: Sendable {
        var mean: Float = 0
        var variance: Float = 0
        var count: UInt32 = 0
    }

    private let mode: AnomalyConfiguration.Seasonality
    private let learning: Int64
    private var slots: [Slot]
    private var firstTime: Int64?
    private var lastTime: Int64?
    /// The typical time between samples, in nanoseconds (exponentially weighted).
    private var step: Double?
    /// Mean squared residuals against the profile and against the moving baseline, over the same samples.
    private var profileResidual = 0.0
    private var baselineResidual = 0.0
    private var compared = 0
    /// Mean squared residuals against the profile on weekdays and on weekends, before the weekend has its own.
    private var weekdayResidual = 0.0
    private var weekendResidual = 0.0
    private var weekendSamples = 0
    private var weekdaySamples = 0
    private var hasWeekendProfile: Bool { slots.count > Self.slotCount }
    private static let weekendEvidence: Int64 = 14 * day

    init(configuration: AnomalyConfiguration) {
        mode = configuration.seasonality
        learning = UnixNanos.from(configuration.seasonalLearning)
        slots = Array(repeating: Slot(), count: Self.slotCount)
    }

    /// The expected mean and deviation at `time` when the profile judges the series, else nil.
    func expectation(at time: Int64, floor: Double) -> (mean: Double, deviation: Double)? {
        let slot = slots[index(of: time)]
        guard mode != .off, isLearned(at: time), slot.count > 0 else { return nil }
        if mode == .auto, !(compared > 50 && profileResidual < 0.5 * baselineResidual) { return nil }
        let deviation = max(Double(slot.variance).squareRoot(), 0.5 * profileResidual.squareRoot(), floor)
        return (Double(slot.mean), deviation)
    }

    /// Learns `value` at `time`; `baselineMean` is what the moving baseline expected of it. A sample of an episode
    /// (`ordinary` false) still teaches its slot, slowly, but not which model explains the series better: an
    /// anomaly must not switch the profile off while it lasts.
    mutating func learn(_ value: Double, at time: Int64, baselineMean: Double, ordinary: Bool = true) {
        guard mode != .off else { return }
        if firstTime == nil { firstTime = time }
        if let lastTime, time > lastTime {
            let gap = Double(time - lastTime)
            step = step.map { $0 + 0.01 * (gap - $0) } ?? gap
        }
        lastTime = time
        let index = index(of: time)
        var slot = slots[index]
        if ordinary, isLearned(at: time), slot.count > 0 {
            compared += 1
            let rate = max(1.0 / 500, 1.0 / Double(compared))
            let fromProfile = value - Double(slot.mean)
            profileResidual += rate * (fromProfile * fromProfile - profileResidual)
            let fromBaseline = value - baselineMean
            baselineResidual += rate * (fromBaseline * fromBaseline - baselineResidual)
            if !hasWeekendProfile { noteWeekCycle(residual: fromProfile * fromProfile, at: time) }
        }
        slot.count &+= 1
        let samplesPerSlotAndDay = step.map { max(1, Double(Self.slotLength) / $0) } ?? 1
        let rate = max(1.0 / Double(slot.count), 1.0 / (7 * samplesPerSlotAndDay))
        let mean = Double(slot.mean), variance = Double(slot.variance)
        let delta = value - mean
        slot.mean = Float(mean + rate * delta)
        slot.variance = slot.count > 1 ? Float((1 - rate) * (variance + rate * delta * delta)) : 0
        slots[index] = slot
    }

    /// Compares weekend and weekday residuals, and gives the weekend its own slots once they clearly differ.
    private mutating func noteWeekCycle(residual: Double, at time: Int64) {
        if Self.isWeekend(time) {
            weekendSamples += 1
            weekendResidual += max(1.0 / 500, 1.0 / Double(weekendSamples)) * (residual - weekendResidual)
        } else {
            weekdaySamples += 1
            weekdayResidual += max(1.0 / 500, 1.0 / Double(weekdaySamples)) * (residual - weekdayResidual)
        }
        guard let firstTime, time - firstTime >= Self.weekendEvidence, weekendSamples > 50, weekdaySamples > 50,
            weekendResidual > 2 * weekdayResidual
        else { return }
        // The weekend starts from the daily profile, weighted as a few days so that it relearns within a weekend.
        slots += slots.map { Slot(mean: $0.mean, variance: $0.variance, count: min($0.count, 2)) }
    }

    /// The slot of `time`: its half hour, in the weekend's slots on Saturdays and Sundays once they exist.
    private func index(of time: Int64) -> Int {
        Self.slot(of: time) + (hasWeekendProfile && Self.isWeekend(time) ? Self.slotCount : 0)
    }

    /// Saturday or Sunday, UTC (1970-01-01 was a Thursday).
    private static func isWeekend(_ time: Int64) -> Bool {
        let days = time >= 0 ? time / day : (time - day + 1) / day
        let weekday = ((days + 4) % 7 + 7) % 7  // 0 Sunday ... 6 Saturday
        return weekday == 0 || weekday == 6
    }

    private func isLearned(at time: Int64) -> Bool {
        guard let firstTime else { return false }
        return time - firstTime >= learning
    }

    private static func slot(of time: Int64) -> Int {
        let intoDay = ((time % day) + day) % day
        return Int(intoDay / slotLength)
    }
}
