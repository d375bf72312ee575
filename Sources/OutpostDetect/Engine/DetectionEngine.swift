import OutpostCore

/// What detection knows about the input a sample came from.
package struct SampleSource: Sendable {
    /// The input's own `detect` table, applied over `[detect]` and overrides.
    package var patch: DetectionPatch? { patchBox?.patch }
    /// The input's polling interval, which `stale_after` counts in; nil (a replay) means no staleness.
    package let interval: Duration?
    /// The runtime's number for the input (its slot), so a reload can tell which input a series came from.
    package let input: Int?
    /// Boxed: a source is kept per input in the configuration and in detection, and a patch is a few hundred bytes
    /// that most inputs do not have.
    private let patchBox: PatchBox?

    private final class PatchBox: Sendable {
        let patch: DetectionPatch
        init(_ patch: DetectionPatch) { self.patch = patch }
    }

    package init(patch: DetectionPatch? = nil, interval: Duration? = nil, input: Int? = nil) {
        self.patchBox = patch.map(PatchBox.init)
        self.interval = interval
        self.input = input
    }
}

/// Runs every detector and rule for every series, and the group detectors over them; owned by one task, so it needs
/// no locks.
///
/// Counters (network bytes) are detected on their per-second rate, since the raw total only ever grows; a counter
/// that belongs to a group joins it with that rate too.
package struct DetectionEngine: Sendable {
    /// Replaced only by a reload (`reconfigure`, in DetectionEngine+Reconfigure.swift).
    package internal(set) var configuration: DetectionConfiguration
    /// Each series' state, densely in first-seen order (nil where a series was forgotten), found through `slots`:
    /// a dictionary holding the states themselves would reserve room for a third more of them (~600 B each).
    /// Internal, not private, for `reconfigure` only.
    var states: [SeriesState?] = []
    private var slots: [Series: Int] = [:]
    private var forgotten = 0
    /// `[[detect.group]]` detectors, in file order; a series finds its own through its state's memberships.
    private var groups: [GroupDetector]
    /// Episodes over `max_episodes_per_hour`, all series and groups together: counted, not sent.
    package private(set) var suppressedEpisodes = 0

    package init(configuration: DetectionConfiguration) {
        self.configuration = configuration
        groups = configuration.groups.filter(\.enabled).map(GroupDetector.init)
    }

    /// Feeds one sample through the series' detectors and rules, and the groups it belongs to.
    package mutating func process(_ sample: Sample, from source: SampleSource = SampleSource()) -> [Event] {
        guard sample.value.isFinite else { return [] }
        // One hash of the series per sample, and the state mutated in place (no copy of its detector's arrays).
        var joined: [Event] = []
        let index: Int
        if let known = slots[sample.series] {
            index = known
        } else {
            index = addState(for: sample, source: source)
            if !groups.isEmpty { joined = joinGroups(slot: index, series: sample.series) }
        }
        let before = states[index]!.summary.suppressed
        var (events, detected) = states[index]!.process(sample)
        suppressedEpisodes += states[index]!.summary.suppressed - before
        if !joined.isEmpty { events = joined + events }
        guard let detected, !states[index]!.memberships.isEmpty else { return events }
        for membership in states[index]!.memberships {
            let suppressed = groups[membership.group].summary.suppressed
            events += groups[membership.group].offer(member: membership.member, sample: detected)
            suppressedEpisodes += groups[membership.group].summary.suppressed - suppressed
        }
        return events
    }

    private mutating func addState(for sample: Sample, source: SampleSource) -> Int {
        let state = makeState(for: sample, source: source)
        states.append(state)
        slots[sample.series] = states.count - 1
        return states.count - 1
    }

    /// Drops what the engine knows of `series` (an input forgot it): its baseline, episodes and staleness, and its
    /// place in groups (which learn afresh without it; an open group episode resolves).
    @discardableResult
    package mutating func forget(_ series: Series) -> [Event] {
        guard let index = slots.removeValue(forKey: series) else { return [] }
        var events: [Event] = []
        for membership in states[index]?.memberships ?? [] { events += leaveGroup(membership) }
        states[index] = nil
        forgotten += 1
        if forgotten > 64, forgotten * 2 > states.count { compact() }
        return events
    }

    /// A sensor fault was reported for `series`: the groups it belongs to wait for a good reading of it.
    package mutating func fault(_ series: Series) {
        guard let index = slots[series], let memberships = states[index]?.memberships else { return }
        for membership in memberships { groups[membership.group].fault(member: membership.member) }
    }

    /// Adds the series in `slot` to every group that selects it.
    private mutating func joinGroups(slot: Int, series: Series) -> [Event] {
        var events: [Event] = []
        for group in groups.indices where groups[group].configuration.selects(series) {
            guard let (member, joined) = groups[group].join(states[slot]!.detectedSeries) else { continue }
            states[slot]!.memberships.append(GroupMembership(group: group, member: member))
            events += joined
        }
        return events
    }

    /// After a reload changed `[[detect.group]]`: every group starts afresh (an open group episode ends without a
    /// resolved event, as a restarted series' does) and every known series joins those that select it.
    mutating func regroup() {
        groups = configuration.groups.filter(\.enabled).map(GroupDetector.init)
        for index in groups.indices { groups[index].tracing = tracing }
        for slot in states.indices where states[slot] != nil {
            states[slot]!.memberships = []
            _ = joinGroups(slot: slot, series: states[slot]!.summary.series)
        }
    }

    /// Takes a member out of its group, renumbering the members after it.
    private mutating func leaveGroup(_ membership: GroupMembership) -> [Event] {
        let events = groups[membership.group].leave(membership.member)
        for slot in states.indices {
            guard let memberships = states[slot]?.memberships, !memberships.isEmpty else { continue }
            states[slot]!.memberships = memberships.compactMap { other in
                guard other.group == membership.group else { return other }
                if other.member == membership.member { return nil }
                let shift = other.member > membership.member ? 1 : 0
                return GroupMembership(group: other.group, member: other.member - shift)
            }
        }
        return events
    }

    /// Drops the forgotten slots, keeping first-seen order.
    private mutating func compact() {
        states = states.filter { $0 != nil }
        slots = Dictionary(uniqueKeysWithValues: states.enumerated().map { ($1!.summary.series, $0) })
        forgotten = 0
    }

    /// How many series the engine keeps state for.
    package var seriesCount: Int { slots.count }

    /// Checks every series for staleness at `now` (unix nanoseconds); call it about once per second.
    package mutating func checkStaleness(now: Int64) -> [Event] {
        var events: [Event] = []
        for index in states.indices where states[index]?.staleness != nil {
            events += states[index]!.staleness!.check(series: states[index]!.summary.series, now: now)
        }
        return events
    }

    /// Per-series totals, in first-seen order, for replay summaries and status.
    package var summaries: [SeriesSummary] {
        states.compactMap { $0?.summary }
    }

    /// Keep what each sample was judged against and its likelihood, for replay plots (costs a little per sample).
    package var tracing = false {
        didSet { for index in groups.indices { groups[index].tracing = tracing } }
    }
    private var sharedConfigurations: [SharedAnomalyConfiguration] = []
    /// What each series' state was built from, shared the same way (a reload compares it, see `reconfigure`, which
    /// also empties it; internal for that).
    var sharedRules: [SeriesRules] = []

    /// Per-group totals, in `[[detect.group]]` order (enabled groups only).
    package var groupSummaries: [GroupSummary] { groups.map(\.summary) }

    /// The members of group `index`, in the order they joined.
    package func groupMembers(_ index: Int) -> [Series] { groups[index].members }

    /// The series events of group `index` carry.
    package func groupSeries(_ index: Int) -> Series { groups[index].series }

    /// Whether group `index` has an episode open (sent, or kept quiet by the budget).
    package func groupInEpisode(_ index: Int) -> Bool { groups[index].inEpisode }

    /// What the newest sample of group `index` was judged against (with `tracing`).
    package func lastGroupTrace(_ index: Int) -> GroupTrace? { groups[index].lastTrace }

    /// What the newest sample of `series` was judged against, and how likely the rules found it (with `tracing`).
    package func lastJudgement(for series: Series) -> (judgement: Judgement, likelihood: Double?)? {
        guard let detector = slots[series].flatMap({ states[$0]?.anomaly }), let judgement = detector.lastJudgement
        else { return nil }
        return (judgement, detector.lastLikelihood)
    }

    package func estimate(for series: Series) -> AnomalyDetector.Estimate? {
        slots[series].flatMap { states[$0]?.anomaly?.estimate }
    }

    private mutating func tracedDetector(_ configuration: AnomalyConfiguration) -> AnomalyDetector {
        var detector = AnomalyDetector(shared: shared(configuration))
        detector.tracing = tracing
        return detector
    }

    /// One shared copy per distinct configuration (most series share the defaults, or a few overrides).
    private mutating func shared(_ configuration: AnomalyConfiguration) -> SharedAnomalyConfiguration {
        if let known = sharedConfigurations.first(where: { $0.value == configuration }) { return known }
        let made = SharedAnomalyConfiguration(configuration)
        if sharedConfigurations.count < 64 { sharedConfigurations.append(made) }
        return made
    }

    private mutating func makeState(for sample: Sample, source: SampleSource) -> SeriesState {
        let rules = shared(rules(for: sample.series, source: source))
        return SeriesState(
            series: sample.series,
            anomaly: rules.settings.anomaly.enabled ? tracedDetector(rules.settings.anomaly) : nil,
            thresholds: rules.thresholds.map(ThresholdRule.init),
            staleness: rules.staleLimit.map { StalenessRule(limit: $0, firstSeen: sample.time) },
            rules: rules, input: source.input
        )
    }

    /// Everything the configuration decides for one series.
    func rules(for series: Series, source: SampleSource) -> SeriesRules {
        let settings = configuration.settings(for: series, sensorPatch: source.patch)
        // Only periodic inputs can go stale: a replay's timestamps are in the past by design.
        return SeriesRules(settings: settings,
                           thresholds: configuration.thresholds.filter { $0.series.matches(series.name) },
                           staleLimit: source.interval.flatMap { settings.staleAfter.limit(interval: $0) })
    }

    private mutating func shared(_ rules: SeriesRules) -> SeriesRules {
        if let known = sharedRules.first(where: { $0 == rules }) { return known }
        if sharedRules.count < 64 { sharedRules.append(rules) }
        return rules
    }
}

/// Totals for one series over a run.
package struct SeriesSummary: Sendable {
    package let series: Series
    package var samples = 0
    package var minimum = Double.infinity
    package var maximum = -Double.infinity
    package var mean = 0.0
    package var anomalies = 0
    /// Episodes over `max_episodes_per_hour`, counted instead of sent.
    package var suppressed = 0
    package var thresholdCrossings = 0
    package var firstTime: Int64 = 0
    package var lastTime: Int64 = 0
}

/// What the configuration decides for one series; a reload keeps a series' state while this stays equal. A class,
/// so series with the same rules share one copy (8 bytes each).
final class SeriesRules: Sendable, Equatable {
    let settings: DetectionSettings
    let thresholds: [ThresholdRuleConfiguration]
    let staleLimit: Duration?

    init(settings: DetectionSettings, thresholds: [ThresholdRuleConfiguration], staleLimit: Duration?) {
        self.settings = settings
        self.thresholds = thresholds
        self.staleLimit = staleLimit
    }

    static func == (lhs: SeriesRules, rhs: SeriesRules) -> Bool {
        lhs === rhs
            || (lhs.settings == rhs.settings && lhs.thresholds == rhs.thresholds && lhs.staleLimit == rhs.staleLimit)
    }
}

struct SeriesState: Sendable {
    var anomaly: AnomalyDetector?
    var thresholds: [ThresholdRule]
    var staleness: StalenessRule?
    var summary: SeriesSummary
    /// What the state was built from, and the input (slot) the series came from, for `reconfigure`.
    let rules: SeriesRules
    let input: Int?
    /// For counters: the previous raw sample and the derived rate series the detectors see.
    var previousCounter: Sample?
    let rateSeries: Series?
    /// The groups the series is a member of (empty for almost every series).
    var memberships: [GroupMembership] = []

    init(series: Series, anomaly: AnomalyDetector?, thresholds: [ThresholdRule], staleness: StalenessRule?,
         rules: SeriesRules, input: Int?) {
        self.anomaly = anomaly
        self.thresholds = thresholds
        self.staleness = staleness
        self.rules = rules
        self.input = input
        self.summary = SeriesSummary(series: series)
        self.rateSeries = series.kind == .counter
            ? Series(name: series.name + ".rate", unit: series.unit + "/s", kind: .gauge, attributes: series.attributes)
            : nil
    }

    /// The events the sample causes, and the sample as detectors saw it (nil when they saw none).
    mutating func process(_ sample: Sample) -> (events: [Event], detected: Sample?) {
        var events = staleness?.sampleArrived(sample) ?? []
        record(sample)
        guard let detected = detectable(sample) else { return (events, nil) }
        if anomaly != nil {
            events += anomaly!.process(detected)
            summary.suppressed = anomaly!.suppressedEpisodes
        }
        for index in thresholds.indices {
            events += thresholds[index].process(detected)
        }
        summary.anomalies += events.count { $0.name == .anomalyRaised }
        summary.thresholdCrossings += events.count { $0.name == .thresholdCrossed }
        return (events, detected)
    }

    /// The series detectors see: the series itself, or a counter's rate.
    var detectedSeries: Series { rateSeries ?? summary.series }

    private mutating func record(_ sample: Sample) {
        if summary.samples == 0 { summary.firstTime = sample.time }
        summary.samples += 1
        summary.minimum = min(summary.minimum, sample.value)
        summary.maximum = max(summary.maximum, sample.value)
        summary.mean += (sample.value - summary.mean) / Double(summary.samples)
        summary.lastTime = max(summary.lastTime, sample.time)
    }

    /// The sample as detectors see it: gauges as they are, counters as a per-second rate (nil for the first one,
    /// after a reset, or when time did not advance).
    private mutating func detectable(_ sample: Sample) -> Sample? {
        guard let rateSeries else { return sample }
        defer { previousCounter = sample }
        guard let previous = previousCounter, sample.time > previous.time, sample.value >= previous.value else {
            return nil
        }
        let rate = (sample.value - previous.value) / UnixNanos.seconds(sample.time - previous.time)
        return Sample(series: rateSeries, time: sample.time, value: rate)
    }
}

/// A series' place in a group: which group, and which of its members.
struct GroupMembership: Sendable {
    let group: Int
    let member: Int
}
