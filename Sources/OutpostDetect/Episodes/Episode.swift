/// One anomaly episode of a series, from the sample that raised it to the one that ends it.
struct Episode: Sendable {
    let start: Int64
    /// What found it (`record`, `spike`, `run`, `drift`, `stuck`), and which of the detector's rules.
    let kind: String
    let rule: Int
    let ending: Finding.Ending
    /// Kept quiet by the budget: the episode runs its course without events.
    let suppressed: Bool
    var lastOutside: Int64
    var calmSamples = 0
    /// The most extreme sample, for the resolved event.
    var peakZ: Double
    var peakValue: Double
    /// The largest |z| (capped, with its sign) that the rules learn from when the episode ends.
    var learnedPeak: Double
    var samples: Int
    /// The newest excursion values, the candidate baseline if the level shift is accepted.
    var recent: [Double]

    init(start: Int64, finding: Finding, rule: Int, suppressed: Bool, z: Double, value: Double) {
        self.start = start
        self.kind = finding.kind
        self.rule = rule
        self.ending = finding.ending
        self.suppressed = suppressed
        self.lastOutside = start
        self.peakZ = z
        self.peakValue = value
        self.learnedPeak = finding.ending == .whenValueChanges ? 0 : z
        self.samples = 1
        self.recent = [value]
    }

    /// Notes one more sample's z: the peak for the event (beyond sigma only) and the one the rules learn.
    mutating func note(z: Double, value: Double, beyondSigma: Bool) {
        samples += 1
        if beyondSigma, abs(z) > abs(peakZ) {
            peakZ = z
            peakValue = value
        }
        let cap = ExcursionTail.cap
        if abs(learnedPeak) < min(abs(z), cap) { learnedPeak = max(-cap, min(cap, z)) }
    }
}
