import OutpostCore

/// What a series normally looks like: a moving mean and deviation, the levels it is known to settle at, and the
/// smallest step it has shown.
///
/// The deviation is the largest of the moving baseline's, a long-horizon one (the exponentially weighted residual
/// over 20 windows, which repeated values do not update), the smallest step seen (the series' resolution) and
/// `min_stddev`, so a flat run cannot collapse it. Only samples the detector judged ordinary are learned.
struct SeriesBaseline: Sendable {
    /// The settings it needs, not the whole configuration: a baseline is kept per series.
    private let window: Int
    private let warmup: Int
    private let sigma: Double
    private let confirmSamples: Int
    private let minStddev: Double
    private var statistics: BaselineStatistics
    /// Exponentially weighted mean square of the residuals (value minus baseline mean) over 20 windows.
    private(set) var longVariance = 0.0
    /// The smallest change between consecutive samples seen so far: the series' resolution, learned.
    private var resolution = Double.infinity
    private(set) var previousValue: Double?
    /// Levels the series settled at before (each accepted level shift, and the level it left), newest last.
    private var knownLevels: [KnownLevel] = []
    /// Samples in a row back at one known level, and which.
    private var returning = (level: -1, samples: 0)

    /// A level the series has held: a return to it is a known regime (a pump going on and off), not an anomaly.
    private struct KnownLevel: Sendable {
        var mean: Double
        var deviation: Double
        static let limit = 4
    }

    init(configuration: AnomalyConfiguration) {
        window = configuration.window
        warmup = configuration.warmup
        sigma = configuration.sigma
        confirmSamples = configuration.confirmSamples
        minStddev = configuration.minStddev
        statistics = BaselineStatistics(method: configuration.method, span: configuration.window)
    }

    var mean: Double { statistics.mean }
    var learnedSamples: Int { statistics.count }
    var isWarmingUp: Bool { statistics.count < warmup }
    var variance: Double { statistics.variance }

    /// The deviation samples are judged against, floored as the type's documentation says.
    var deviation: Double {
        max(statistics.standardDeviation, longVariance.squareRoot(), floor)
    }

    /// The floors that do not depend on the moving baseline: the learned resolution and `min_stddev`.
    var floor: Double {
        max(resolution.isFinite ? resolution : 0, minStddev)
    }

    var longDeviation: Double { max(longVariance.squareRoot(), floor) }

    /// Adds an ordinary sample to the moving baseline and the long-horizon deviation.
    mutating func learn(_ value: Double) {
        // A repeated value says nothing new about the spread: flat runs must not shrink the long-horizon deviation.
        if statistics.count >= warmup, value != previousValue {
            let residual = value - statistics.mean
            let alpha = 2.0 / Double(20 * window + 1)
            longVariance += alpha * (residual * residual - longVariance)
        }
        statistics.add(value)
        if statistics.count == warmup { longVariance = statistics.variance }
    }

    /// Notes the value every sample ends with, learned or not, for the resolution.
    mutating func noteStep(to value: Double) {
        if let previousValue, value != previousValue { resolution = min(resolution, abs(value - previousValue)) }
        previousValue = value
    }

    // MARK: Known levels

    /// The newest remembered level whose band holds `value`.
    func knownLevel(near value: Double) -> Int? {
        knownLevels.indices.last { index in
            let level = knownLevels[index]
            return abs(value - level.mean) <= sigma * max(level.deviation, floor)
        }
    }

    /// One more excursion sample inside the band of known level `index`; after `confirm_samples` in a row the
    /// baseline moves there without an episode.
    mutating func approach(knownLevel index: Int) {
        returning = returning.level == index ? (index, returning.samples + 1) : (index, 1)
        guard returning.samples >= confirmSamples else { return }
        let target = knownLevels[index]
        remember(KnownLevel(mean: statistics.mean, deviation: deviation))
        seed(mean: target.mean, deviation: target.deviation)
        returning = (-1, 0)
    }

    /// A sample that is not a step towards a known level.
    mutating func leaveKnownLevels() { returning = (-1, 0) }

    /// Accepts the excursion's newest values as the new normal. Only the newest half is kept: a transient peak at
    /// the start of the excursion (a spike before the step) must not inflate the new level's deviation.
    mutating func acceptLevel(excursion values: [Double]) {
        let needed = max(2, min(warmup, window))
        let newest = values.suffix((needed + 1) / 2)
        let mean = newest.reduce(0, +) / Double(newest.count)
        let squares = newest.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let spread = (squares / Double(max(1, newest.count - 1))).squareRoot()
        let left = KnownLevel(mean: statistics.mean, deviation: deviation)
        seed(mean: mean, deviation: spread)
        let reached = KnownLevel(mean: statistics.mean, deviation: max(statistics.standardDeviation, floor))
        // Only distinct regimes, whose bands do not touch, are remembered: a slow cycle's accepted shifts are not.
        if abs(reached.mean - left.mean) > sigma * (reached.deviation + left.deviation) {
            remember(left)
            remember(reached)
        }
        longVariance = max(longVariance, statistics.variance)
    }

    /// Records `level`, replacing a remembered one it matches, forgetting the oldest beyond the limit.
    private mutating func remember(_ level: KnownLevel) {
        if let same = knownLevel(near: level.mean) { knownLevels.remove(at: same) }
        knownLevels.append(level)
        if knownLevels.count > KnownLevel.limit { knownLevels.removeFirst() }
    }

    /// Starts the baseline over at `mean` with `deviation`, as if it had learned `warmup` samples there.
    private mutating func seed(mean: Double, deviation: Double) {
        let count = max(2, warmup)
        let spread = deviation * (Double(count - 1) / Double(count)).squareRoot()
        statistics.reset(to: (0..<count).map { mean + ($0 % 2 == 0 ? -spread : spread) })
    }
}
