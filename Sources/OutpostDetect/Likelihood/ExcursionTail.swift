/// How often a series' samples land beyond `sigma` on one side, and how far: the long-run distribution of its
/// scores, from which the likelihood of a new one is read.
///
/// Beyond `sigma` the tail is taken as exponential: P(|z| > x) = rate · e^(−(x − sigma) / excess), with `rate` the
/// share of samples beyond `sigma` and `excess` their mean distance past it, both exponentially weighted over about
/// 8640 samples (a month of 5-minute data). It starts from the Gaussian's values (rate 0.135 %, excess 0.33) worth
/// 300 samples, so a young series is judged as if it were Gaussian and learns its own tail from there. Heavy-tailed
/// series (request counts, social media volumes) learn a large excess, and ordinary bursts stop looking rare;
/// excursions that recur (a nightly job) teach the tail and become ordinary by themselves. Peaks-over-threshold with
/// an exponential tail (Pickands 1975; the generalised Pareto with shape 0), applied to scores as the anomaly
/// likelihood of Ahmad et al. (2017) does.
///
/// The group detector keeps one per statistic (T² and Q, each divided by its textbook limit): there `sigma` is 1 and
/// the prior is the textbook distribution's own rate and tail scale beyond it.
struct ExcursionTail: Sendable {
    static let span = 8640.0
    static let priorSamples = 300.0
    /// Scores beyond this count as this: one infinite z (a flat series' first change) must not teach the tail.
    static let cap = 100.0
    private let sigma: Double
    private(set) var rate: Double
    private(set) var excess: Double
    private var samples = 0.0
    private var excursions = 0.0
    /// How many of the newest excursions the mean excess is weighted over at least.
    private let excessMemory: Double

    /// A tail beyond `sigma`, starting from the Gaussian's.
    init(sigma: Double) { self.init(sigma: sigma, rate: 0.00135, excess: 0.33) }

    /// A tail beyond `sigma` that starts from `rate` and mean `excess`, worth `priorSamples` samples. The excess is
    /// weighted over about as many excursions as `span` samples hold at the Gaussian's rate, or over all of them
    /// (`excessMemory: .infinity`) for a tail learned once over a fixed period.
    init(sigma: Double, rate: Double, excess: Double, excessMemory: Double = ExcursionTail.span * 0.0027) {
        self.sigma = sigma
        self.rate = rate
        self.excess = excess
        self.excessMemory = excessMemory
    }

    /// The probability of a score at least `score` (≥ 0) on this side.
    func probability(ofAtLeast score: Double) -> Double {
        guard score > sigma else { return 1 }
        return rate * Mathematics.exponential(-(min(score, Self.cap) - sigma) / max(excess, 1e-3))
    }

    /// The score that is exceeded with `probability`: where a sample becomes rarer than it (`sigma` when excursions
    /// are that common already).
    func score(exceededWith probability: Double) -> Double {
        guard rate > probability, probability > 0 else { return sigma }
        return min(Self.cap, sigma + max(excess, 1e-3) * Mathematics.logarithm(rate / probability))
    }

    /// Learns one sample's score on this side (0 for a sample on the other side).
    mutating func learn(_ score: Double) {
        let score = min(score, Self.cap)
        let beyond = score > sigma
        let weight = max(1 / Self.span, 1 / (samples + Self.priorSamples))
        samples += 1
        rate += weight * ((beyond ? 1 : 0) - rate)
        guard beyond else { return }
        excursions += 1
        // Excursions are rare: their mean excess is weighted over about as many of them as `span` holds, and starts
        // from the Gaussian's worth 30 excursions, so that one early spike cannot make the next one ordinary.
        let excessWeight = min(0.5, max(1 / excessMemory, 1 / (excursions + 30)))
        excess += excessWeight * ((score - sigma) - excess)
    }
}
