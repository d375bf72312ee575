import OutpostCore

/// Raises on a stuck sensor: a run of identical values of `stuck_samples` and more than twice the longest run the
/// series showed before, once it has learned 10 windows and changed value at least a window's worth of times.
///
/// A quantised sensor that often sits still must sit still far longer than usual; a series that never moved (a
/// constant) was never anything else and is not stuck. The episode ends when the value changes.
struct StuckRule: DetectionRule {
    static let name = "stuck"
    static let moment = RuleMoment.calm
    private let minimum: Int
    private let window: Int
    private var previous: Double?
    /// Identical values in a row so far, the longest such run seen, and how often the value changed.
    private var run = 0
    private var longestRun = 1
    private var changes = 0

    init(configuration: AnomalyConfiguration) {
        minimum = configuration.stuckSamples
        window = configuration.window
    }

    func inspect(_ judgement: Judgement) -> Finding? {
        guard minimum > 0, changes >= window, judgement.value == previous,
            judgement.learnedSamples >= 10 * window
        else { return nil }
        let length = run + 1
        guard length >= minimum, length > 2 * longestRun else { return nil }
        var finding = Finding(kind: Self.name, likelihood: nil,
                              explanation: "has read \(formatted(judgement.value)) for \(length) samples in a row "
                                  + "(the longest run before was \(longestRun))")
        finding.ending = .whenValueChanges
        finding.describesSeries = true
        finding.details["outpost.anomaly.run"] = .int(Int64(length))
        return finding
    }

    mutating func learn(_ judgement: Judgement, outcome: Outcome) {
        let value = judgement.value
        if let previous, value != previous { changes += 1 }
        if value == previous {
            run += 1
        } else {
            // A stuck run that ended is learned too: it was reported once, and a series whose normal includes such
            // runs (a pump that is off for hours) must not report every one of them.
            longestRun = max(longestRun, run)
            run = 1
        }
        previous = value
    }
}
