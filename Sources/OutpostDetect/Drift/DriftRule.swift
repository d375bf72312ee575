import OutpostCore

/// Raises on slow change: the moving baseline has left a slow one (20 windows) by more than `drift_sigma`
/// long-run deviations, and by 1.5 times more than in any earlier block of the range horizon.
///
/// A slow failure (a temperature sinking over hours, a latency creeping up) is followed by the moving baseline, so
/// no single sample stands out. The gap between a fast and a slow mean grows with it (a slow-versus-fast baseline
/// comparison, as in Page's CUSUM family of change detectors, here judged against the series' own history of gaps):
/// a series that wanders as a random walk does has large gaps too, and only a gap well beyond all of them is a
/// drift. Its episode ends when the gap has closed to half of `drift_sigma`. The rule judges after `drift_after`
/// (3 days) of history and 10 windows of samples.
struct DriftRule: DetectionRule {
    static let name = "drift"
    static let moment = RuleMoment.afterLearning
    static let beyondHistory = 1.5
    private let threshold: Double
    private let history: Int64
    private let slowAlpha: Double
    private let minimumSamples: Int
    private var slowMean: Double?
    private var firstTime: Int64?
    private var gaps: RangeHistory
    /// The finding of the sample just learned, for `inspect` (which is asked after learning).
    private var pending: Finding?
    private var gap = 0.0

    init(configuration: AnomalyConfiguration) {
        threshold = configuration.driftSigma
        history = UnixNanos.from(configuration.driftAfter)
        slowAlpha = 2.0 / Double(20 * configuration.window + 1)
        minimumSamples = 10 * configuration.window
        gaps = RangeHistory(horizon: UnixNanos.from(configuration.rangeHorizon))
    }

    func inspect(_ judgement: Judgement) -> Finding? { pending }

    /// A drift is over once the gap has closed to half the threshold.
    func hasSettled(_ judgement: Judgement) -> Bool { abs(gap) < threshold / 2 }

    mutating func learn(_ judgement: Judgement, outcome: Outcome) {
        pending = nil
        guard outcome != .warmingUp else { return }
        let fast = judgement.baselineMean
        var slow = slowMean ?? fast
        slow += slowAlpha * (fast - slow)
        slowMean = slow
        let deviation = judgement.longDeviation
        gap = deviation > 0 ? (fast - slow) / deviation : 0
        if firstTime == nil { firstTime = judgement.time }
        if !gaps.isEmpty, abs(gap) > threshold, judgement.learnedSamples >= minimumSamples,
            judgement.time - firstTime! >= history
        {
            let largest = max(gaps.highest(exceptNewest: true), -gaps.lowest(exceptNewest: true), 0)
            if abs(gap) > Self.beyondHistory * largest {
                pending = Finding(kind: Self.name, likelihood: nil,
                                  explanation: "has drifted \(formatted(abs(gap))) long-run deviations "
                                      + "\(gap > 0 ? "above" : "below") its slow level \(formatted(slow))")
                pending?.describesSeries = true
                pending?.ending = .whenSettled
            }
        }
        gaps.add(gap, time: judgement.time)
    }
}
