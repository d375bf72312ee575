import OutpostCore

/// Raises on an excursion the series itself makes rare: one sample further out than it goes once in
/// 1 / `likelihood_threshold` samples (a *spike*), or more samples beyond `sigma` among the last `recent_samples`
/// than its rate of excursions makes likely below a thousandth of the threshold (a *run*: counts of excursions
/// cluster in bursts more than independent samples would, so the bar is higher).
///
/// The anomaly likelihood of Ahmad, Lavin, Purdy and Agha (2017, "Unsupervised real-time anomaly detection for
/// streaming data"): keep a long-run distribution of each series' scores, compare the recent ones with it, and
/// alert on the tail probability. Here the distribution is `ExcursionTail` (one per side) and the recent scores are
/// judged by the binomial tail of their count. What the rule learns leaves episodes out, but for the peak of each
/// rise that returned to normal: a rise that recurs teaches the rise tail and becomes ordinary. Drops teach
/// nothing: on real recordings a drop (a service down, a sensor unplugged) stays telling however often it came
/// before. A sample beyond the range of the last day is judged against 10 times the threshold: it is new at
/// least for a day.
///
/// Memory: two tails, a bit per recent sample, and a one-day range (12 blocks).
struct LikelihoodRule: DetectionRule {
    static let name = "likelihood"
    static let moment = RuleMoment.excursion
    private let threshold: Double
    private let recentSamples: Int
    private let confirmSamples: Int
    private let sigma: Double
    private var rises: ExcursionTail
    private var drops: ExcursionTail
    /// One bit per recent sample (newest lowest): beyond `sigma` or not.
    private var recent: UInt64 = 0
    private var seen = 0
    private var lastDay = RangeHistory(horizon: 86_400 * 1_000_000_000)

    init(configuration: AnomalyConfiguration) {
        threshold = configuration.likelihoodThreshold
        recentSamples = configuration.recentSamples
        confirmSamples = configuration.confirmSamples
        sigma = configuration.sigma
        rises = ExcursionTail(sigma: configuration.sigma)
        drops = ExcursionTail(sigma: configuration.sigma)
    }

    func inspect(_ judgement: Judgement) -> Finding? {
        let z = judgement.z
        let newForADay = lastDay.isOutside(judgement.value, margin: judgement.baselineDeviation, high: z > 0)
        let spikeThreshold = newForADay ? threshold * 10 : threshold
        let single = (z >= 0 ? rises : drops).probability(ofAtLeast: abs(z))
        if single < spikeThreshold {
            return Finding(kind: "spike", likelihood: single,
                           explanation: "a sample this far out comes once in \(oneIn(single)) samples of this series")
        }
        let (count, trials) = counted(including: judgement.isOutside)
        guard count >= confirmSamples else { return nil }
        let run = Mathematics.binomialTail(trials: trials, atLeast: count, probability: rises.rate + drops.rate)
        guard run < threshold / 1000 else { return nil }
        return Finding(kind: "run", likelihood: run,
                       explanation: "\(count) of the last \(trials) samples lie beyond \(formatted(sigma)) sigma; "
                           + "this series does that once in \(oneIn(run)) samples")
    }

    /// The smaller of the sample's spike and run probabilities (1 within `sigma`).
    func likelihood(of judgement: Judgement) -> Double? {
        guard judgement.isOutside else { return 1 }
        let single = (judgement.z >= 0 ? rises : drops).probability(ofAtLeast: abs(judgement.z))
        let (count, trials) = counted(including: true)
        guard count >= confirmSamples else { return single }
        let run = Mathematics.binomialTail(trials: trials, atLeast: count, probability: rises.rate + drops.rate)
        return min(single, run)
    }

    mutating func learn(_ judgement: Judgement, outcome: Outcome) {
        lastDay.add(judgement.value, time: judgement.time)
        guard outcome != .warmingUp else { return }
        remember(judgement.isOutside)
        switch outcome {
        case .calm, .excursion: learnScore(judgement.z)
        default: break
        }
    }

    mutating func episodeEnded(_ episode: EndedEpisode) {
        guard !episode.stuck, !episode.acceptedLevel, episode.peakZ > 0 else { return }
        learnScore(episode.peakZ)
    }

    private mutating func learnScore(_ z: Double) {
        let score = min(abs(z), ExcursionTail.cap)
        rises.learn(z >= 0 ? score : 0)
        drops.learn(z >= 0 ? 0 : score)
    }

    /// The excursions among the recent samples with this one, and how many samples that is.
    private func counted(including outside: Bool) -> (count: Int, trials: Int) {
        let mask: UInt64 = recentSamples >= 64 ? .max : (1 << UInt64(recentSamples)) - 1
        let bits = ((recent << 1) | (outside ? 1 : 0)) & mask
        return (bits.nonzeroBitCount, min(seen + 1, recentSamples))
    }

    private mutating func remember(_ outside: Bool) {
        recent = (recent << 1) | (outside ? 1 : 0)
        seen = min(seen + 1, recentSamples)
    }

    /// "3.2e6" for a probability of 3.1e-7.
    private func oneIn(_ probability: Double) -> String {
        guard probability > 0 else { return "more than 1e300" }
        let samples = 1 / probability
        return samples < 1e6 ? formatted(samples.rounded()) : shortScientific(samples)
    }
}

/// "3.2e6": two significant digits and a power of ten.
func shortScientific(_ value: Double) -> String {
    guard value.isFinite, value > 0 else { return value.description }
    var exponent = 0
    var mantissa = value
    while mantissa >= 10 { mantissa /= 10; exponent += 1 }
    while mantissa < 1 { mantissa *= 10; exponent -= 1 }
    let rounded = (mantissa * 10).rounded() / 10
    return rounded >= 10 ? "1e\(exponent + 1)" : "\(formatted(rounded))e\(exponent)"
}
