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
/// Decision: slots are UTC half hours, not local time; a daylight-saving change shifts a local schedule by one slot
/// for a week while the slots relearn, which costs less than a time-zone database on every gateway. Day-of-week
/// profiles are left out: seven times the memory for a cycle most sensors do not have.
///
/// Memory: 48 × (mean, variance) as Float plus a count each, about 0.5 KiB per series. Source: Holt–Winters style
/// seasonal indices (Winters 1960), kept per slot instead of smoothed across slots.
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

    init(configuration: AnomalyConfiguration) {
        mode = configuration.seasonality
        learning = UnixNanos.from(configuration.seasonalLearning)
        slots = Array(repeating: Slot(), count: Self.slotCount)
    }

    /// The expected mean and deviation at `time` when the profile judges the series, else nil.
    func expectation(at time: Int64, floor: Double) -> (mean: Double, deviation: Double)? {
        let slot = slots[Self.slot(of: time)]
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
        let index = Self.slot(of: time)
        var slot = slots[index]
        if ordinary, isLearned(at: time), slot.count > 0 {
            compared += 1
            let rate = max(1.0 / 500, 1.0 / Double(compared))
            let fromProfile = value - Double(slot.mean)
            profileResidual += rate * (fromProfile * fromProfile - profileResidual)
            let fromBaseline = value - baselineMean
            baselineResidual += rate * (fromBaseline * fromBaseline - baselineResidual)
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

    private func isLearned(at time: Int64) -> Bool {
        guard let firstTime else { return false }
        return time - firstTime >= learning
    }

    private static func slot(of time: Int64) -> Int {
        let intoDay = ((time % day) + day) % day
        return Int(intoDay / slotLength)
    }
}
