import OutpostCore

/// Detects anomalies in one series, one episode at a time: each sample is judged against what the series' model
/// expects, and the detection rules (`DetectionRules`) decide which judged samples start an episode.
///
/// The model is the moving baseline (`SeriesBaseline`), or the time-of-day profile (`SeasonalProfile`) once it
/// explains a daily cycle better. A sample beyond `sigma` is an *excursion*; the rules raise on a record, on an
/// excursion the series itself makes rare (the likelihood rule: a spike, or a run of them), on a slow drift, or on
/// a stuck value. An episode starts with one `outpost.anomaly.raised` and ends with one `outpost.anomaly.resolved`
/// once |z| has stayed at or below `resolve_sigma` for `quiet_period` and `quiet_samples` (one excursion of many
/// samples is one episode at any sample interval), or when it lasted `level_shift_after` and its level is accepted
/// as the new normal. Samples beyond `sigma` stay out of the baseline; returns to a level the series is known to
/// hold move the baseline there without an episode (a pump going on and off). `EpisodeBudget` decides which
/// episodes are sent. Time is the samples' own time, so a replay gives the same events as the live run did.
package struct AnomalyDetector: Sendable {
    /// Shared by every series with the same settings: a detector is kept per series, its settings are not.
    private let shared: SharedAnomalyConfiguration
    package var configuration: AnomalyConfiguration { shared.value }
    private var model: SeriesBaseline
    private var profile: SeasonalProfile?
    private var rules: [any DetectionRule]
    private var episode: Episode?
    private var budget: EpisodeBudget
    /// Episodes kept quiet: since the last resolved event sent, and in total.
    private var suppressedSinceReport = 0
    package private(set) var suppressedEpisodes = 0
    /// What the newest sample was judged against, and how likely the rules found it, for replay plots: one element
    /// with `tracing` on, none (and no allocation) otherwise.
    private var traced: [Traced] = []

    private struct Traced: Sendable {
        var judgement: Judgement?
        var likelihood: Double?
    }

    /// Mean and standard deviation as the detector sees them (the latter floored).
    package struct Estimate: Sendable, Equatable {
        package let mean: Double
        package let standardDeviation: Double
        package let samples: Int
    }

    package init(configuration: AnomalyConfiguration) {
        self.init(shared: SharedAnomalyConfiguration(configuration))
    }

    package init(shared: SharedAnomalyConfiguration) {
        self.shared = shared
        let configuration = shared.value
        model = SeriesBaseline(configuration: configuration)
        profile = configuration.seasonality == .off ? nil : SeasonalProfile(configuration: configuration)
        rules = DetectionRules.registered.filter { configuration.uses($0.name) }
            .map { $0.init(configuration: configuration) }
        budget = EpisodeBudget(configuration: configuration)
    }

    /// The moving baseline's estimate.
    package var estimate: Estimate {
        Estimate(mean: model.mean, standardDeviation: model.deviation, samples: model.learnedSamples)
    }

    package var isInEpisode: Bool { episode != nil }

    /// Whether the detector keeps what each sample was judged against (for replay plots).
    package var tracing: Bool {
        get { !traced.isEmpty }
        set { traced = newValue ? [Traced()] : [] }
    }

    package var lastJudgement: Judgement? { traced.first?.judgement }
    package var lastLikelihood: Double? { traced.first?.likelihood }

    /// Whether the current episode is one the budget keeps quiet.
    package var isSuppressed: Bool { episode?.suppressed ?? false }

    /// Feeds one sample; returns the events it causes (none for almost every sample).
    package mutating func process(_ sample: Sample) -> [Event] {
        guard sample.value.isFinite else { return [] }
        defer { model.noteStep(to: sample.value) }
        guard !model.isWarmingUp else {
            let judgement = judge(sample)
            profile?.learn(sample.value, at: sample.time, baselineMean: model.mean)
            model.learn(sample.value)
            teach(judgement, .warmingUp)
            return []
        }
        let judgement = judge(sample)
        if !traced.isEmpty {
            let likelihood = rules.compactMap { $0.likelihood(of: judgement) }.min()
            traced[0] = Traced(judgement: judgement, likelihood: likelihood)
        }
        var events: [Event]
        let outcome: Outcome
        if episode != nil {
            (events, outcome) = (continueEpisode(judgement), .inEpisode)
        } else {
            (events, outcome) = decide(judgement)
        }
        profile?.learn(sample.value, at: sample.time, baselineMean: judgement.baselineMean,
                       ordinary: outcome != .inEpisode && episode == nil)
        teach(judgement, outcome)
        if let current = episode, current.ending == .whenSettled, rules[current.rule].hasSettled(refreshed(judgement)) {
            events += endEpisode(current, judgement, reason: "settled")
        } else if episode == nil, let (finding, rule) = ask(.afterLearning, refreshed(judgement)) {
            events += startEpisode(judgement, finding, rule: rule)
        }
        return events
    }

    // MARK: Judging

    private func judge(_ sample: Sample) -> Judgement {
        let floor = model.floor
        let seasonal = profile?.expectation(at: sample.time, floor: floor)
        let mean = seasonal?.mean ?? model.mean
        let deviation = seasonal?.deviation ?? model.deviation
        let z = Self.score(sample.value, mean: mean, deviation: deviation)
        return Judgement(sample: sample, expectedMean: mean, deviation: deviation, z: z,
                         isOutside: exceeds(z, configuration.sigma), isSeasonal: seasonal != nil,
                         baselineMean: model.mean, baselineDeviation: model.deviation,
                         longDeviation: model.longDeviation, learnedSamples: model.learnedSamples)
    }

    /// The judgement with the baseline as it is after learning the sample (for rules asked after learning).
    private func refreshed(_ judgement: Judgement) -> Judgement {
        Judgement(sample: judgement.sample, expectedMean: judgement.expectedMean, deviation: judgement.deviation,
                  z: judgement.z, isOutside: judgement.isOutside, isSeasonal: judgement.isSeasonal,
                  baselineMean: model.mean, baselineDeviation: model.deviation, longDeviation: model.longDeviation,
                  learnedSamples: model.learnedSamples)
    }

    private static func score(_ value: Double, mean: Double, deviation: Double) -> Double {
        let difference = value - mean
        guard deviation > 0 else { return difference == 0 ? 0 : (difference > 0 ? .infinity : -.infinity) }
        return difference / deviation
    }

    /// A sample outside an episode: learned, on its way to a known level, or the start of one.
    private mutating func decide(_ judgement: Judgement) -> ([Event], Outcome) {
        guard judgement.isOutside else {
            model.leaveKnownLevels()
            if let (finding, rule) = ask(.calm, judgement) {
                return (startEpisode(judgement, finding, rule: rule), .calm)
            }
            let baselineZ = Self.score(judgement.value, mean: model.mean, deviation: model.deviation)
            if judgement.isSeasonal || !exceeds(baselineZ, configuration.sigma, anyDirection: true) {
                model.learn(judgement.value)
            }
            return ([], .calm)
        }
        let found = ask(.excursion, judgement)
        if !judgement.isSeasonal, found?.finding.kind != RecordRule.name,
            let level = model.knownLevel(near: judgement.value)
        {
            model.approach(knownLevel: level)
            return ([], .knownLevel)
        }
        model.leaveKnownLevels()
        guard let (finding, rule) = found else { return ([], .excursion) }
        return (startEpisode(judgement, finding, rule: rule), .startedEpisode)
    }

    /// The first finding of the rules asked at `moment`, in registration order, and which rule found it.
    private func ask(_ moment: RuleMoment, _ judgement: Judgement) -> (finding: Finding, rule: Int)? {
        for index in rules.indices where type(of: rules[index]).moment == moment {
            if let finding = rules[index].inspect(judgement) { return (finding, index) }
        }
        return nil
    }

    private mutating func teach(_ judgement: Judgement, _ outcome: Outcome) {
        let learned = outcome == .warmingUp ? judgement : refreshed(judgement)
        for index in rules.indices { rules[index].learn(learned, outcome: outcome) }
    }

    /// Whether `z` lies beyond `limit` in the configured direction (or either, for what the baseline learns).
    private func exceeds(_ z: Double, _ limit: Double, anyDirection: Bool = false) -> Bool {
        switch anyDirection ? .both : configuration.direction {
        case .both: abs(z) > limit
        case .high: z > limit
        case .low: z < -limit
        }
    }

    // MARK: Episodes

    private mutating func startEpisode(_ judgement: Judgement, _ finding: Finding, rule: Int) -> [Event] {
        let rising = finding.ending == .whenValueChanges ? nil : judgement.z >= 0
        let refusal = budget.admit(at: judgement.time, rising: rising)
        episode = Episode(start: judgement.time, finding: finding, rule: rule, suppressed: refusal != nil,
                          z: judgement.z, value: judgement.value)
        guard refusal == nil else {
            suppressedEpisodes += 1
            suppressedSinceReport += 1
            return []
        }
        return [AnomalyEvents.raised(judgement, finding, configuration: configuration)]
    }

    private mutating func continueEpisode(_ judgement: Judgement) -> [Event] {
        var current = episode!
        let value = judgement.value, z = judgement.z
        if current.ending == .whenValueChanges {
            current.samples += 1
            guard value == model.previousValue else {
                model.learn(value)
                return endEpisode(current, judgement, reason: "value_changed")
            }
            episode = current
            return []
        }
        let beyondSigma = abs(z) > configuration.sigma
        current.note(z: z, value: value, beyondSigma: beyondSigma)
        if exceeds(z, configuration.resolveSigma, anyDirection: true) {
            current.lastOutside = judgement.time
            current.calmSamples = 0
        } else {
            current.calmSamples += 1
        }
        // Only samples beyond `sigma` stay out of the baseline. Keeping out everything beyond the resolve level
        // would freeze the baseline behind any slow trend, and the episode would never end.
        if beyondSigma {
            current.recent.append(value)
            if current.recent.count > configuration.window { current.recent.removeFirst() }
        } else {
            model.learn(value)
        }
        if shouldAcceptLevel(current, judgement) {
            model.acceptLevel(excursion: current.recent)
            return endEpisode(current, judgement, reason: "level_shift_accepted")
        }
        if current.ending == .whenSettled {
            episode = current  // calm samples do not end a drift: `process` asks the rule once it has learned
            return []
        }
        if judgement.time - current.lastOutside >= UnixNanos.from(configuration.quietPeriod),
            current.calmSamples >= configuration.quietSamples
        {
            return endEpisode(current, judgement, reason: "returned_to_baseline")
        }
        episode = current
        return []
    }

    /// Under the time-of-day profile an excursion is never a new level: it lasts until the series is back to its
    /// usual day (the profile itself follows a changed schedule within about a week).
    private func shouldAcceptLevel(_ current: Episode, _ judgement: Judgement) -> Bool {
        let after = configuration.levelShiftAfter
        return after > .zero && !judgement.isSeasonal && judgement.time - current.start >= UnixNanos.from(after)
            && abs(judgement.z) > configuration.sigma
            && current.recent.count >= max(2, min(configuration.warmup, configuration.window))
    }

    private mutating func endEpisode(_ current: Episode, _ judgement: Judgement, reason: String) -> [Event] {
        episode = nil
        let ended = EndedEpisode(peakZ: current.learnedPeak, acceptedLevel: reason == "level_shift_accepted",
                                 stuck: current.ending == .whenValueChanges)
        for index in rules.indices { rules[index].episodeEnded(ended) }
        guard !current.suppressed else { return [] }
        defer { suppressedSinceReport = 0 }
        let z = Self.score(judgement.value, mean: model.mean, deviation: model.deviation)
        return [AnomalyEvents.resolved(judgement, episode: current, reason: reason, z: z, baseline: estimate,
                                       suppressed: suppressedSinceReport, configuration: configuration)]
    }
}

/// An `AnomalyConfiguration` that many series' detectors share.
package final class SharedAnomalyConfiguration: Sendable {
    package let value: AnomalyConfiguration

    package init(_ value: AnomalyConfiguration) { self.value = value }
}
