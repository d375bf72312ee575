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
struct ExcursionTail: Sendable {
    static let span = 8640.0
    static let priorSamples = 300.0
    /// Scores beyond this count as this: one infinite z (a flat series' first change) must not teach the tail.
    static let cap = 100.0
    private let sigma: Double
    private(set) var rate = 0.00135
    private var excess = 0.33
    private var samples = 0.0
    private var excursions = 0.0

    init(sigma: Double) { self.sigma = sigma }

    /// The probability of a score at least `score` (≥ 0) on this side.
    func probability(ofAtLeast score: Double) -> Double {
        guard score > sigma else { return 1 }
        return rate * Mathematics.exponential(-(min(score, Self.cap) - sigma) / max(excess, 1e-3))
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
        let excessWeight = min(0.5, max(1 / (Self.span * 0.0027), 1 / (excursions + 30)))
        excess += excessWeight * ((score - sigma) - excess)
    }
}
