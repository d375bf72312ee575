import OutpostCore

/// Detects anomalies across the series of one machine: readings that each stay in their usual range while the
/// relation between them breaks (more current for the same flow, pressure up while flow is flat).
///
/// The members' samples are lined up in time (`GroupAlignment`); each group sample is judged by a principal-component
/// model of the members (`GroupModel`) through two statistics: Hotelling's T² (how far the sample lies from the usual
/// operating point, along the relations the model knows) and Q, the squared prediction error (how far it lies off
/// those relations) (MacGregor and Kourti 1995, "Statistical process control of multivariate processes", Control
/// Engineering Practice 3). The group learns for `learning`: the model over all of it, and over its second half the
/// distribution of each statistic beyond its textbook limit (`ControlLimits`: χ² for T², Jackson and Mudholkar for
/// Q), as an `ExcursionTail` per statistic, so a plant whose statistics run heavier than a Gaussian's does not flood.
///
/// After learning, the statistic a sample is judged by is its *confirmed* value: the `confirm_samples`-th largest of
/// the last `recent_samples`, so a transient shorter than that (a valve slamming, a glitch in one sensor) never
/// raises; an episode starts when either confirmed statistic is rarer than `likelihood_threshold` by the learned
/// tails. Samples where the operating point moves much faster than it usually does (a pump starting: 30 times the
/// usual step, and two samples after) are not judged or learned: a static model cannot judge a transition. The
/// episode ends once both statistics have stayed within their control limits for `quiet_period` and `quiet_samples`;
/// one lasting `accept_after` is accepted as a changed plant and the group learns afresh. Episodes pass the same
/// `EpisodeBudget` as a series'. Samples outside episodes that keep the relations (Q within its control limit) keep
/// teaching the model (not the tails, which stay as learned: a slow fault must not teach the limits to step aside),
/// and the components are refreshed every `refresh_samples`.
///
/// The raised event names the statistic, its value and limit, and the members that contribute most to it over the
/// confirming samples, largest first (`GroupModel.contributions`).
package struct GroupDetector: Sendable {
    package let configuration: GroupConfiguration
    /// The group as its events name it: its name, unit "1", and the attributes every member shares by selection.
    package let series: Series
    package private(set) var members: [Series] = []
    private var labels: [String] = []
    private var alignment: GroupAlignment
    private var model: GroupModel?
    private var learningStart: Int64 = 0
    private var learningDone = false
    private var learnedSinceRefresh = 0
    private var refreshedHalfway = false
    private var tails: Tails?
    private var recent: RecentSamples
    private var movement = Movement()
    /// The previous group sample, for the noise and the movement.
    private var previous: [Double]?
    private var episode: GroupEpisode?
    private var budget: EpisodeBudget
    private var suppressedSinceReport = 0
    private var wasSuspended = false
    package private(set) var summary: GroupSummary
    /// Keep what each group sample was judged against, for replay plots.
    package var tracing = false
    package private(set) var lastTrace: GroupTrace?
    /// Whether an episode is open (sent, or kept quiet by the budget).
    package var inEpisode: Bool { episode != nil }

    /// How much faster than usual the operating point must move to count as a transition, and how many samples after
    /// one are not judged either (the plant settling).
    static let movementFactor = 30.0
    static let settleSamples = 2

    package init(configuration: GroupConfiguration) {
        self.configuration = configuration
        series = Series(name: configuration.name, unit: "1", attributes: configuration.fixedAttributes)
        alignment = GroupAlignment(tolerance: configuration.tolerance)
        recent = RecentSamples(capacity: configuration.recentSamples)
        budget = EpisodeBudget(perHour: configuration.maxEpisodesPerHour, perDay: configuration.maxEpisodesPerDay,
                               tolerance: configuration.recurrenceTolerance)
        summary = GroupSummary(name: configuration.name)
    }

    // MARK: Members

    /// Adds `member` to the group (the group then learns afresh); nil when the group is full.
    package mutating func join(_ member: Series) -> (index: Int, events: [Event])? {
        guard members.count < GroupConfiguration.maximumMembers else {
            summary.refused += 1
            return nil
        }
        members.append(member)
        alignment.add()
        return (members.count - 1, membersChanged())
    }

    /// Removes member `index` (forgotten by its input); the group learns afresh without it.
    package mutating func leave(_ index: Int) -> [Event] {
        members.remove(at: index)
        alignment.remove(index)
        return membersChanged()
    }

    /// The member's reading failed: the group waits for it rather than using its last value.
    package mutating func fault(member: Int) {
        alignment.fault(member: member)
        noteSuspension(at: alignment.newest)
    }

    private mutating func membersChanged() -> [Event] {
        labels = GroupEvents.labels(for: members)
        summary.members = members.count
        let time = max(alignment.newest, episode?.start ?? .min)
        let events = episode.map { endEpisode($0, time: time, reason: "members_changed") } ?? []
        relearn()
        return events
    }

    // MARK: Samples

    /// Notes one member's sample; returns the events of the group sample it completes, if any.
    package mutating func offer(member: Int, sample: Sample) -> [Event] {
        guard sample.value.isFinite else { return [] }
        guard let (time, values) = alignment.note(member: member, time: sample.time, value: sample.value) else {
            noteSuspension(at: sample.time)
            return []
        }
        if wasSuspended {
            wasSuspended = false
            previous = nil  // the step across a gap is no transition to judge
        }
        return process(values, time: time)
    }

    private mutating func noteSuspension(at time: Int64) {
        guard !wasSuspended, members.count >= 2, alignment.staleMember != nil, summary.samples > 0 else { return }
        wasSuspended = true
        summary.suspensions += 1
        if tracing { lastTrace = GroupTrace(time: time, state: .suspended) }
    }

    private mutating func process(_ x: [Double], time: Int64) -> [Event] {
        guard members.count >= 2 else { return [] }
        summary.samples += 1
        defer { previous = x }
        if model == nil {
            model = GroupModel(dimension: members.count, method: configuration.method, window: configuration.window,
                               signalToNoise: configuration.signalToNoise)
            learningStart = time
        }
        guard learningDone else {
            learn(x, time: time)
            if tracing { lastTrace = GroupTrace(time: time, state: .learning) }
            return []
        }
        let components = model!.components!
        let scores = model!.scores(x, previous: previous)!
        if isMoving(scores, components) {
            summary.transitions += 1
            if tracing { lastTrace = GroupTrace(time: time, state: .transition) }
            return []
        }
        recent.push(t2: scores.t2 / components.t2Limit, q: scores.q / components.qLimit, values: x)
        let confirmed = recent.confirmed(configuration.confirmSamples)
        trace(time: time, confirmed: confirmed, components: components)
        if let current = episode { return continueEpisode(current, x, time: time, scores: scores) }
        if let finding = judge(confirmed) { return startEpisode(finding, time: time, components: components) }
        teach(x, scores: scores, components: components)
        return []
    }

    // MARK: Learning

    /// A sample of the learning period: the model learns all of it; over the second half the tails learn the
    /// confirmed statistics as the model then judges them.
    private mutating func learn(_ x: [Double], time: Int64) {
        summary.learningSamples += 1
        model!.learn(x, previous: previous)
        learnedSinceRefresh += 1
        let minimum = max(20, 10 * members.count)
        let learning = UnixNanos.from(configuration.learning)
        // While learning, the components are refreshed each time the samples learned double (and every
        // `refresh_samples`), and once at half time: the tails learn the second half's statistics against a model of
        // everything before it, not against the first few dozen samples.
        let learnedAtRefresh = model!.learned - learnedSinceRefresh
        let halfway = !refreshedHalfway && time - learningStart >= learning / 2 && model!.components != nil
        if model!.components == nil ? model!.learned >= minimum
            : learnedSinceRefresh >= min(configuration.refreshSamples, learnedAtRefresh) || halfway
        {
            refresh()
            if halfway { refreshedHalfway = true }
        }
        if let components = model!.components, time - learningStart >= learning / 2,
            let scores = model!.scores(x, previous: previous), !isMoving(scores, components)
        {
            recent.push(t2: scores.t2 / components.t2Limit, q: scores.q / components.qLimit, values: x)
            if tails == nil { tails = Tails(components) }
            if recent.count >= configuration.confirmSamples {
                let confirmed = recent.confirmed(configuration.confirmSamples)
                tails!.t2.learn(confirmed.t2)
                tails!.q.learn(confirmed.q)
            }
        }
        if time - learningStart >= learning, model!.learned >= 2 * minimum, model!.components != nil {
            refresh()
            if tails == nil { tails = Tails(model!.components!) }
            learningDone = true
            summary.retainedComponents = model!.components!.retained
        }
    }

    /// A judged sample that started no episode, and that keeps the relations (its Q within its control limit),
    /// teaches the model: a plant's operating point wanders along its relations beyond what one learning period saw
    /// (demand, the ambient, wear), and the model follows it, equally weighted (`welford`) or over `window` samples
    /// (`ewma`). A sample off the relations never teaches, so a sensor drifting away from the others cannot teach
    /// itself into the model. The tails stay as learned.
    private mutating func teach(_ x: [Double], scores: GroupModel.Scores, components: GroupModel.Components) {
        guard scores.q <= components.qLimit else { return }
        model!.learn(x, previous: previous)
        learnedSinceRefresh += 1
        if learnedSinceRefresh >= configuration.refreshSamples { refresh() }
    }

    private mutating func refresh() {
        model!.refresh()
        learnedSinceRefresh = 0
        if learningDone { summary.retainedComponents = model!.components?.retained ?? 0 }
    }

    private mutating func relearn() {
        model = nil
        learningDone = false
        learnedSinceRefresh = 0
        refreshedHalfway = false
        tails = nil
        recent = RecentSamples(capacity: configuration.recentSamples)
        movement = Movement()
        previous = nil
        summary.relearned += summary.samples > 0 ? 1 : 0
    }

    /// Whether the operating point moves so much faster than usual that the sample is a transition.
    private mutating func isMoving(_ scores: GroupModel.Scores, _ components: GroupModel.Components) -> Bool {
        movement.isMoving(step: scores.step, noiseStep: components.noiseStep)
    }

    // MARK: Episodes

    private struct Finding {
        let statistic: GroupStatistic
        let likelihood: Double
    }

    /// T² must be `t2Rarity` times rarer than Q to raise: a plant's slow states (demand, the ambient, a tank's level)
    /// do take its operating point beyond what one learning period saw, while every relation holds; such a sample is
    /// ordinary for Q and, where one member leaves its own range, a record for that series' detector. On the generated
    /// pumps this keeps T²'s false episodes on days of high demand rare and loses no fault Q alone does not catch.
    static let t2Rarity = 1e-3

    private func judge(_ confirmed: (t2: Double, q: Double)) -> Finding? {
        let threshold = configuration.likelihoodThreshold
        let t2 = tails!.t2.probability(ofAtLeast: confirmed.t2)
        let q = tails!.q.probability(ofAtLeast: confirmed.q)
        if q < threshold, q <= t2 / Self.t2Rarity { return Finding(statistic: .q, likelihood: q) }
        if t2 < threshold * Self.t2Rarity { return Finding(statistic: .t2, likelihood: t2) }
        return q < threshold ? Finding(statistic: .q, likelihood: q) : nil
    }

    private mutating func startEpisode(_ finding: Finding, time: Int64, components: GroupModel.Components) -> [Event] {
        let refusal = budget.admit(at: time, rising: true)
        let limits = limits(components)
        let control = finding.statistic == .t2 ? components.t2Limit : components.qLimit
        let confirmed = recent.confirmed(configuration.confirmSamples)
        let value = (finding.statistic == .t2 ? confirmed.t2 : confirmed.q) * control
        episode = GroupEpisode(start: time, statistic: finding.statistic, suppressed: refusal != nil, peak: value,
                               limit: finding.statistic == .t2 ? limits.t2 : limits.q)
        summary.episodes += 1
        guard refusal == nil else {
            summary.suppressed += 1
            suppressedSinceReport += 1
            return []
        }
        let shares = contributions(finding.statistic)
        return [GroupEvents.raised(self.event, time: time, statistic: finding.statistic, value: value,
                                   limit: episode!.limit, controlLimit: control, likelihood: finding.likelihood,
                                   contributions: shares, components: components.retained)]
    }

    private mutating func continueEpisode(_ current: GroupEpisode, _ x: [Double], time: Int64,
                                          scores: GroupModel.Scores) -> [Event] {
        var current = current
        let components = model!.components!
        current.samples += 1
        let value = current.statistic == .t2 ? scores.t2 : scores.q
        current.peak = max(current.peak, value)
        if scores.t2 > components.t2Limit || scores.q > components.qLimit {
            current.lastOutside = time
            current.calmSamples = 0
        } else {
            current.calmSamples += 1
        }
        if configuration.acceptAfter > .zero, time - current.start >= UnixNanos.from(configuration.acceptAfter) {
            let events = endEpisode(current, time: time, reason: "relation_accepted")
            relearn()
            return events
        }
        if time - current.lastOutside >= UnixNanos.from(configuration.quietPeriod),
            current.calmSamples >= configuration.quietSamples
        {
            return endEpisode(current, time: time, reason: "returned_to_baseline")
        }
        episode = current
        return []
    }

    private mutating func endEpisode(_ current: GroupEpisode, time: Int64, reason: String) -> [Event] {
        episode = nil
        guard !current.suppressed else { return [] }
        defer { suppressedSinceReport = 0 }
        return [GroupEvents.resolved(event, time: time, episode: current, reason: reason,
                                     suppressed: suppressedSinceReport)]
    }

    /// Each member's share of the statistic over the recent samples beyond its control limit (all recent samples
    /// when none is), largest first.
    private func contributions(_ statistic: GroupStatistic) -> [(member: Int, share: Double)] {
        var totals = [Double](repeating: 0, count: members.count)
        let beyond = recent.samples(beyond: statistic)
        for x in beyond.isEmpty ? recent.samples(beyond: nil) : beyond {
            for (member, value) in model!.contributions(x, statistic: statistic).enumerated() {
                totals[member] += value
            }
        }
        let sum = totals.reduce(0, +)
        guard sum > 0 else { return [] }
        return totals.enumerated().map { ($0.offset, $0.element / sum) }.sorted { $0.share > $1.share }
    }

    /// The limits a confirmed statistic raises beyond, in the statistic's own units.
    private func limits(_ components: GroupModel.Components) -> (t2: Double, q: Double) {
        guard let tails else { return (.infinity, .infinity) }
        let threshold = configuration.likelihoodThreshold
        return (tails.t2.score(exceededWith: threshold * Self.t2Rarity) * components.t2Limit,
                tails.q.score(exceededWith: threshold) * components.qLimit)
    }

    private var event: GroupEvents.Context {
        GroupEvents.Context(series: series, members: members, labels: labels, configuration: configuration)
    }

    private mutating func trace(time: Int64, confirmed: (t2: Double, q: Double), components: GroupModel.Components) {
        guard tracing else { return }
        let limits = limits(components)
        lastTrace = GroupTrace(time: time, state: .judged, t2: confirmed.t2 * components.t2Limit,
                               q: confirmed.q * components.qLimit, t2Limit: limits.t2, qLimit: limits.q,
                               t2Control: components.t2Limit, qControl: components.qLimit)
    }
}

/// One episode of a group.
struct GroupEpisode: Sendable {
    let start: Int64
    let statistic: GroupStatistic
    let suppressed: Bool
    /// The largest value of the statistic seen, and the limit it was raised beyond.
    var peak: Double
    let limit: Double
    var lastOutside: Int64
    var calmSamples = 0
    var samples = 1

    init(start: Int64, statistic: GroupStatistic, suppressed: Bool, peak: Double, limit: Double) {
        self.start = start
        self.statistic = statistic
        self.suppressed = suppressed
        self.peak = peak
        self.limit = limit
        self.lastOutside = start
    }
}

/// The learned tails of both statistics, each divided by its control limit. They start from the textbook
/// distribution's rate (1 %) and tail scale beyond the limit, worth 300 samples. The confirmed value of independent
/// samples would exceed the limit far less often, but a plant's statistics move slowly (a sample beyond the limit has
/// neighbours beyond it), so the single sample's rate is the honest start: a learning period that happened to stay
/// well inside the limits must not leave limits a slow wander of the plant crosses.
private struct Tails: Sendable {
    var t2: ExcursionTail
    var q: ExcursionTail

    init(_ components: GroupModel.Components) {
        // χ² and g·χ² tails decay as e^(−x / 2) and e^(−x / 2g): that is their mean excess beyond a high limit.
        // The tails are learned once, over the learning period: every excursion of it weighs the same.
        t2 = ExcursionTail(sigma: 1, rate: 0.01, excess: 2 / max(components.t2Limit, 1e-9), excessMemory: .infinity)
        q = ExcursionTail(sigma: 1, rate: 0.01, excess: 2 * components.qScale / max(components.qLimit, 1e-9),
                          excessMemory: .infinity)
    }
}

/// The newest group samples, with their statistics divided by the control limits.
private struct RecentSamples: Sendable {
    private var t2: [Double] = []
    private var q: [Double] = []
    private var values: [[Double]] = []
    private var next = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { t2.count }

    mutating func push(t2 newT2: Double, q newQ: Double, values x: [Double]) {
        if t2.count < capacity {
            t2.append(newT2)
            q.append(newQ)
            values.append(x)
        } else {
            t2[next] = newT2
            q[next] = newQ
            values[next] = x
        }
        next = (next + 1) % capacity
    }

    /// Each statistic's `rank`-th largest value among the recent samples (0 while fewer are known).
    func confirmed(_ rank: Int) -> (t2: Double, q: Double) {
        (Self.largest(rank, of: t2), Self.largest(rank, of: q))
    }

    /// The recent samples whose `statistic` lies beyond its control limit (every recent sample for nil).
    func samples(beyond statistic: GroupStatistic?) -> [[Double]] {
        values.indices.filter { index in
            switch statistic {
            case nil: true
            case .t2: t2[index] > 1
            case .q: q[index] > 1
            }
        }.map { values[$0] }
    }

    private static func largest(_ rank: Int, of scores: [Double]) -> Double {
        guard scores.count >= rank, rank > 0 else { return 0 }
        var top = [Double](repeating: -.infinity, count: rank)
        for score in scores where score > top[rank - 1] {
            var index = rank - 1
            while index > 0, top[index - 1] < score {
                top[index] = top[index - 1]
                index -= 1
            }
            top[index] = score
        }
        return top[rank - 1]
    }
}

/// How fast the group's operating point usually moves between samples, to tell a transition from a steady state.
private struct Movement: Sendable {
    private var typical: Double?
    private var count = 0
    private var settle = 0

    /// `step` is the T² of the change since the previous sample; `noiseStep` what noise alone gives.
    mutating func isMoving(step: Double?, noiseStep: Double) -> Bool {
        guard let step else { return false }
        let usual = typical ?? noiseStep
        let moving = step > GroupDetector.movementFactor * max(usual, noiseStep)
        let weight = max(1 / (Double(count) + 10), 1 / ExcursionTail.span)
        typical = usual + weight * (min(step, 3 * usual) - usual)
        count += 1
        if moving {
            settle = GroupDetector.settleSamples
            return true
        }
        guard settle > 0 else { return false }
        settle -= 1
        return true
    }
}

/// Totals for one group over a run.
package struct GroupSummary: Sendable {
    package let name: String
    package var members = 0
    /// Matching series beyond the most members a group takes.
    package var refused = 0
    /// Group samples formed, of them learned during a learning period, and judged as transitions.
    package var samples = 0
    package var learningSamples = 0
    package var transitions = 0
    /// Times a stale or faulted member suspended the group.
    package var suspensions = 0
    /// Episodes started (sent or not), kept quiet by the budget, and how often the group learned afresh.
    package var episodes = 0
    package var suppressed = 0
    package var relearned = 0
    /// The principal components the model keeps, as last refreshed.
    package var retainedComponents = 0

    package init(name: String) { self.name = name }
}

/// What a group sample was judged against, for replay plots.
package struct GroupTrace: Sendable {
    package enum State: String, Sendable {
        case learning, judged, transition, suspended
    }

    package let time: Int64
    package let state: State
    /// The confirmed statistics, the limits they raise beyond, and the textbook control limits (NaN unless judged).
    package var t2 = Double.nan
    package var q = Double.nan
    package var t2Limit = Double.nan
    package var qLimit = Double.nan
    package var t2Control = Double.nan
    package var qControl = Double.nan
}
