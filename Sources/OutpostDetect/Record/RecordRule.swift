import OutpostCore

/// Raises on a record: a value beyond every value of the last `range_horizon` (7 days) by more than one deviation.
///
/// On real recordings the largest events are what operators label, and a new high or low for a week is rare in
/// ordinary data of any distribution, heavy-tailed or not. The range is kept as the minimum and maximum of 12 time
/// blocks, so it costs the same at any sample rate. The rule waits for a window of history: a young range makes
/// every other sample a record.
struct RecordRule: DetectionRule {
    static let name = "record"
    static let moment = RuleMoment.excursion
    private let window: Int
    private let horizonText: String
    private var range: RangeHistory

    init(configuration: AnomalyConfiguration) {
        window = configuration.window
        horizonText = Self.describe(configuration.rangeHorizon)
        range = RangeHistory(horizon: UnixNanos.from(configuration.rangeHorizon))
    }

    func inspect(_ judgement: Judgement) -> Finding? {
        guard judgement.learnedSamples >= window else { return nil }
        let high = judgement.z > 0
        guard range.isOutside(judgement.value, margin: judgement.baselineDeviation, high: high) else { return nil }
        let previous = high ? range.highest() : range.lowest()
        return Finding(kind: Self.name, likelihood: nil,
                       explanation: "a new \(high ? "high" : "low") for \(horizonText) "
                           + "(\(high ? "above" : "below") \(formatted(previous)))")
    }

    mutating func learn(_ judgement: Judgement, outcome: Outcome) {
        range.add(judgement.value, time: judgement.time)
    }

    /// "7 days", "36 hours", "90 minutes".
    private static func describe(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds >= 2 * 86_400, seconds % 86_400 == 0 { return "\(seconds / 86_400) days" }
        if seconds >= 2 * 3_600, seconds % 3_600 == 0 { return "\(seconds / 3_600) hours" }
        return "\(max(1, seconds / 60)) minutes"
    }
}
