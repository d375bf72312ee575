import OutpostCore

/// One `[[detect.group]]`: the series a group detector watches together, and how it learns and alerts.
package struct GroupConfiguration: Sendable, Equatable {
    package enum Method: String, Sendable, CaseIterable {
        /// Every learned sample weighs the same (Welford).
        case welford
        /// Exponentially weighted once `window` samples are learned: for plants that change faster.
        case ewma
    }

    /// How old a member's latest value may be, beside the newest one, to enter a group sample.
    package enum Tolerance: Sendable, Equatable {
        /// Three of the member's own usual intervals.
        case auto
        case duration(Duration)
    }

    /// `name` (required): the group's name; events about the group carry it as their series.
    package var name: String
    /// `series`, default every series: globs over series names; a series joins when any matches.
    package var series: [Glob] = []
    /// `attributes`, default none: attribute → glob; a series joins only when every one of them matches its own.
    package var attributes: [(key: String, pattern: Glob)] = []
    /// `enabled`, default `true`.
    package var enabled = true
    /// `learning`, default `"1d"`: how long the group learns before it may alert (the model over all of it, the
    /// limits over its second half).
    package var learning: Duration = .seconds(86_400)
    /// `likelihood_threshold`, default `1e-6`: a group sample starts an episode when its confirmed T² or Q is rarer
    /// than this by the limits the group learned.
    package var likelihoodThreshold = 1e-6
    /// `confirm_samples`, default `3`: a statistic counts as the `confirm_samples`-th largest of the last
    /// `recent_samples`, so a transient of fewer samples never raises.
    package var confirmSamples = 3
    /// `recent_samples`, default `10`.
    package var recentSamples = 10
    /// `signal_to_noise`, default `3.0`: a principal component joins the model when its variance is at least this many
    /// times the members' noise.
    package var signalToNoise = 3.0
    /// `method`, default `"welford"`; `window`, default `100000` group samples (for `ewma`).
    package var method = Method.welford
    package var window = 100_000
    /// `refresh_samples`, default `500`: the principal components are recomputed after this many learned samples.
    package var refreshSamples = 500
    /// `tolerance`, default `"auto"`: see `Tolerance`.
    package var tolerance = Tolerance.auto
    /// `quiet_period`, default `"30s"`, and `quiet_samples`, default `10`: how long both statistics must stay within
    /// their control limits before an episode resolves.
    package var quietPeriod: Duration = .seconds(30)
    package var quietSamples = 10
    /// `max_episodes_per_hour`, default `4`; `max_episodes_per_day`, default `12`; `recurrence_tolerance`, default
    /// `0.1`: the group's episode budget, as for a series.
    package var maxEpisodesPerHour = 4
    package var maxEpisodesPerDay = 12
    package var recurrenceTolerance = 0.1
    /// `accept_after`, default `"1d"`: an episode lasting this long is accepted as a changed plant: it resolves and the
    /// group learns afresh. `"0s"` never accepts one.
    package var acceptAfter: Duration = .seconds(86_400)

    /// The most members a group takes; further matching series are refused (and counted).
    package static let maximumMembers = 32

    package init(name: String) { self.name = name }

    package static func == (lhs: GroupConfiguration, rhs: GroupConfiguration) -> Bool {
        lhs.name == rhs.name && lhs.series == rhs.series
            && lhs.attributes.elementsEqual(rhs.attributes) { $0.key == $1.key && $0.pattern == $1.pattern }
            && lhs.enabled == rhs.enabled && lhs.learning == rhs.learning
            && lhs.likelihoodThreshold == rhs.likelihoodThreshold && lhs.confirmSamples == rhs.confirmSamples
            && lhs.recentSamples == rhs.recentSamples && lhs.signalToNoise == rhs.signalToNoise
            && lhs.method == rhs.method && lhs.window == rhs.window && lhs.refreshSamples == rhs.refreshSamples
            && lhs.tolerance == rhs.tolerance && lhs.quietPeriod == rhs.quietPeriod
            && lhs.quietSamples == rhs.quietSamples && lhs.maxEpisodesPerHour == rhs.maxEpisodesPerHour
            && lhs.maxEpisodesPerDay == rhs.maxEpisodesPerDay && lhs.recurrenceTolerance == rhs.recurrenceTolerance
            && lhs.acceptAfter == rhs.acceptAfter
    }

    /// Whether `series` belongs to the group by its name and attributes.
    package func selects(_ series: Series) -> Bool {
        guard self.series.isEmpty || self.series.contains(where: { $0.matches(series.name) }) else { return false }
        return attributes.allSatisfy { key, pattern in
            series.attributes[key].map { pattern.matches($0.description) } ?? false
        }
    }

    /// The attributes every member has for certain (those selected by a plain value, not a pattern): the group's own.
    package var fixedAttributes: Attributes {
        var result = Attributes()
        for (key, pattern) in attributes where !pattern.pattern.contains(where: { $0 == "*" || $0 == "?" }) {
            result[key] = .string(pattern.pattern)
        }
        return result
    }

    package static let keys: Set<String> = [
        "name", "series", "attributes", "enabled", "learning", "sensitivity", "likelihood_threshold",
        "confirm_samples", "recent_samples", "signal_to_noise", "method", "window", "refresh_samples", "tolerance",
        "quiet_period", "quiet_samples", "max_episodes_per_hour", "max_episodes_per_day", "recurrence_tolerance",
        "accept_after",
    ]

    /// Reads one `[[detect.group]]` table; nil (with the problems reported) when it cannot be used.
    package static func read(_ reader: ConfigReader) -> GroupConfiguration? {
        let name = reader.requiredString("name", hint: "name the group, e.g. name = \"pump-1\"")
        var group = GroupConfiguration(name: name ?? "")
        group.series = (reader.strings("series") ?? []).map(Glob.init)
        group.attributes = reader.stringMap("attributes").map { ($0.key, Glob($0.value)) }
        group.enabled = reader.bool("enabled", default: true)
        group.learning = reader.duration("learning", default: group.learning)
        group.readSensitivity(reader)
        group.likelihoodThreshold = reader.double("likelihood_threshold", in: 1e-300...0.5,
                                                  default: group.likelihoodThreshold)
        group.recentSamples = reader.int("recent_samples", in: 1...64, default: group.recentSamples)
        group.confirmSamples = reader.int("confirm_samples", in: 1...64, default: group.confirmSamples)
        group.signalToNoise = reader.double("signal_to_noise", default: group.signalToNoise)
        let method = reader.choice("method", Method.allCases.map(\.rawValue), default: group.method.rawValue)
        group.method = Method(rawValue: method) ?? group.method
        group.window = reader.int("window", in: 2...100_000_000, default: group.window)
        group.refreshSamples = reader.int("refresh_samples", in: 1...1_000_000, default: group.refreshSamples)
        group.tolerance = readTolerance(reader) ?? group.tolerance
        group.quietPeriod = reader.duration("quiet_period", default: group.quietPeriod)
        group.quietSamples = reader.int("quiet_samples", in: 1...1_000_000, default: group.quietSamples)
        group.maxEpisodesPerHour = reader.int("max_episodes_per_hour", in: 0...1_000_000,
                                              default: group.maxEpisodesPerHour)
        group.maxEpisodesPerDay = reader.int("max_episodes_per_day", in: 0...1_000_000,
                                             default: group.maxEpisodesPerDay)
        group.recurrenceTolerance = reader.double("recurrence_tolerance", in: 0...1,
                                                  default: group.recurrenceTolerance)
        group.acceptAfter = reader.duration("accept_after", default: group.acceptAfter)
        reader.finish()
        group.validate(reader)
        return name.map { _ in group }
    }

    /// `sensitivity` sets `likelihood_threshold` and `confirm_samples` together; either key set beside it wins.
    private mutating func readSensitivity(_ reader: ConfigReader) {
        guard reader.contains("sensitivity") else { return }
        let names = AnomalyConfiguration.Sensitivity.allCases.map(\.rawValue)
        let chosen = reader.choice("sensitivity", names, default: AnomalyConfiguration.Sensitivity.normal.rawValue)
        guard let sensitivity = AnomalyConfiguration.Sensitivity(rawValue: chosen) else { return }
        likelihoodThreshold = sensitivity.likelihoodThreshold
        confirmSamples = sensitivity.confirmSamples
    }

    private static func readTolerance(_ reader: ConfigReader) -> Tolerance? {
        guard let node = reader.node("tolerance") else { return nil }
        if case .string("auto") = node.value { return .auto }
        guard let duration = reader.duration("tolerance") else { return nil }
        guard duration > .zero else {
            reader.invalid("tolerance", "must be positive, or \"auto\"")
            return nil
        }
        return .duration(duration)
    }

    private func validate(_ reader: ConfigReader) {
        if reader.contains("name"), name.isEmpty { reader.invalid("name", "must not be empty") }
        if reader.contains("series"), series.isEmpty {
            reader.invalid("series", "must name at least one series or pattern, e.g. series = [\"pump.*\"]")
        }
        if learning <= .zero { reader.invalid("learning", "must be positive, e.g. \"1d\"") }
        if confirmSamples > recentSamples {
            reader.invalid("confirm_samples",
                           "must not exceed recent_samples (\(recentSamples)), got \(confirmSamples)")
        }
        if !(signalToNoise > 0) { reader.invalid("signal_to_noise", "must be positive, got \(signalToNoise)") }
        if quietPeriod < .zero { reader.invalid("quiet_period", "must not be negative") }
        if acceptAfter < .zero { reader.invalid("accept_after", "must not be negative") }
    }
}
