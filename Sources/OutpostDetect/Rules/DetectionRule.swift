import OutpostCore

/// A detection rule: per-series state that watches every sample and says when one should start an episode.
///
/// The anomaly detector judges each sample against what the series' model expects (the moving baseline, or the
/// time-of-day profile), then asks each rule at the rule's `moment`; the first finding starts an episode, which the
/// detector runs (resolution, level shifts, budgets). After the decision every rule learns from the sample, told
/// what it was, so that a rule can keep anomalies out of what it learns. A new rule is a folder with a type that
/// conforms to this protocol, its keys in `AnomalyConfiguration`, and one line in `DetectionRules.registered`.
package protocol DetectionRule: Sendable {
    /// The rule's name in `rules = [...]` and in events (`details.anomaly.rule` names the finding's kind).
    static var name: String { get }
    /// When the rule is asked.
    static var moment: RuleMoment { get }
    init(configuration: AnomalyConfiguration)
    /// Whether this sample starts an episode, asked before the rule learns from it.
    func inspect(_ judgement: Judgement) -> Finding?
    /// Learns from the sample once the detector has decided what it was; called for every sample, warm-up included.
    mutating func learn(_ judgement: Judgement, outcome: Outcome)
    /// The episode the series was in has ended.
    mutating func episodeEnded(_ episode: EndedEpisode)
    /// Whether the condition behind an episode this rule started (one that ends `.whenSettled`) is over; asked
    /// after the rule learned each of its samples.
    func hasSettled(_ judgement: Judgement) -> Bool
    /// How likely the series makes a sample like this one, by the rule's estimate (a probability per sample), for
    /// replay plots; nil when the rule has no such estimate. Asked before the rule learns from the sample.
    func likelihood(of judgement: Judgement) -> Double?
}

extension DetectionRule {
    package mutating func episodeEnded(_ episode: EndedEpisode) {}
    package func hasSettled(_ judgement: Judgement) -> Bool { true }
    package func likelihood(of judgement: Judgement) -> Double? { nil }
}

/// When a rule is asked whether a sample starts an episode.
package enum RuleMoment: Sendable {
    /// For a sample beyond `sigma` (in `direction`), outside an episode and not on its way to a known level.
    case excursion
    /// For a sample within `sigma`, outside an episode.
    case calm
    /// For every sample outside an episode, after the model and the rules have learned from it.
    case afterLearning
}

/// What became of a sample, told to every rule so it learns only what it should.
package enum Outcome: Sendable, Equatable {
    /// The baseline is still warming up: nothing is judged.
    case warmingUp
    /// Within `sigma` (a stuck sensor's episode may start on such a sample).
    case calm
    /// Beyond `sigma`, but no rule found it worth an episode.
    case excursion
    /// Beyond `sigma` inside the band of a level the series is known to hold.
    case knownLevel
    /// Beyond `sigma`, and it started an episode (raised, or counted by a budget).
    case startedEpisode
    /// An episode was already running.
    case inEpisode
}

/// One sample as the detector judged it.
package struct Judgement: Sendable {
    package let sample: Sample
    /// What the model expected, and the deviation the sample was measured in (the time-of-day profile's when it
    /// judges, else the moving baseline's).
    package let expectedMean: Double
    package let deviation: Double
    /// (value − expected mean) / deviation.
    package let z: Double
    /// Whether |z| exceeds `sigma` in the configured direction.
    package let isOutside: Bool
    /// Whether the time-of-day profile judged the sample (else the moving baseline did).
    package let isSeasonal: Bool
    /// The moving baseline's mean and deviation (also when the profile judged).
    package let baselineMean: Double
    package let baselineDeviation: Double
    /// The long-horizon deviation (20 windows) and the samples the baseline has learned.
    package let longDeviation: Double
    package let learnedSamples: Int

    package var value: Double { sample.value }
    package var time: Int64 { sample.time }
}

/// A rule's reason to start an episode.
package struct Finding: Sendable {
    /// What was found: `record`, `spike`, `run`, `drift` or `stuck`.
    package let kind: String
    /// How often the series does this by the rule's estimate (a probability per sample), where it has one.
    package let likelihood: Double?
    /// Why, in words: the end of the alert's message, e.g. "a new high for 7 days (above 23.1)".
    package let explanation: String
    /// The explanation is a whole sentence after the series' name ("has read 21.5 for 40 samples in a row"),
    /// rather than a reason given after the sample's value and z.
    package var describesSeries = false
    /// How the episode it starts ends.
    package var ending = Ending.whenCalm

    package enum Ending: Sendable {
        /// Once |z| has stayed within `resolve_sigma` for `quiet_period` and `quiet_samples`, or the level is
        /// accepted after `level_shift_after`.
        case whenCalm
        /// When the value changes (a stuck sensor).
        case whenValueChanges
        /// When the rule that found it says its condition is over (a drift, which calm samples do not end).
        case whenSettled
    }
    /// Extra attributes for the raised event (`outpost.anomaly.run`, ...).
    package var details = Attributes()
}

/// What a rule learns of an episode that ended.
package struct EndedEpisode: Sendable {
    /// The largest |z| seen during it, with its sign (capped at 100).
    package let peakZ: Double
    /// It ended because its level was accepted as the new normal.
    package let acceptedLevel: Bool
    /// It was a stuck-sensor episode.
    package let stuck: Bool
}

/// The rules an anomaly detector runs, in the order their findings are preferred: one line per rule.
package enum DetectionRules {
    package static let registered: [any DetectionRule.Type] = [
        RecordRule.self,
        LikelihoodRule.self,
        DriftRule.self,
        StuckRule.self,
    ]

    package static var names: [String] { registered.map { $0.name } }
}
