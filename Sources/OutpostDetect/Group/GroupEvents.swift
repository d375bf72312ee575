import OutpostCore

/// The events a group detector sends, each explaining itself: which statistic, how far beyond which limit, and which
/// members pulled it there, in words an operator reads ("pump-1: outlet pressure and motor current out of their
/// usual relation").
enum GroupEvents {
    /// What every event of a group names.
    struct Context {
        let series: Series
        let members: [Series]
        let labels: [String]
        let configuration: GroupConfiguration
    }

    /// Members whose share is below this are left out of the message (they stay in the details).
    static let mentionedShare = 0.15
    /// At most this many members are named in the details.
    static let listedMembers = 8

    static func raised(_ context: Context, time: Int64, statistic: GroupStatistic, value: Double, limit: Double,
                       controlLimit: Double, likelihood: Double, contributions: [(member: Int, share: Double)],
                       components: Int) -> Event {
        var attributes = common(context, value: value, statistic: statistic)
        attributes["outpost.anomaly.likelihood"] = .double(roundedEstimate(likelihood))
        attributes["outpost.group.limit"] = .double(roundedEstimate(limit))
        attributes["outpost.group.control_limit"] = .double(roundedEstimate(controlLimit))
        attributes["outpost.group.members"] = .int(Int64(context.members.count))
        attributes["outpost.group.components"] = .int(Int64(components))
        let listed = contributions.prefix(listedMembers).filter { $0.share >= 0.005 }
        attributes["outpost.group.contributors"] = .string(listed.map { context.members[$0.member].key }
            .joined(separator: ","))
        attributes["outpost.group.contributions"] = .string(listed.map { formatted(($0.share * 100).rounded() / 100) }
            .joined(separator: ","))
        let named = Array(contributions.prefix(3).enumerated()
            .filter { $0.offset == 0 || $0.element.share >= mentionedShare }.map { context.labels[$0.element.member] })
        let what = switch (statistic, named.count) {
        case (.q, 1): "out of its usual relation to the others"
        case (.q, _): "out of their usual relation"
        case (.t2, 1): "far from its usual operating point"
        case (.t2, _): "together far from their usual operating point"
        }
        let subject = named.isEmpty ? "its members" : sentence(named)
        let message = "\(context.series.name): \(subject) \(what) (\(statistic.symbol) \(formatted(value)), limit "
            + "\(formatted(limit)))"
        return Event(name: .anomalyRaised, severity: .warn, time: time, series: context.series, message: message,
                     attributes: attributes)
    }

    static func resolved(_ context: Context, time: Int64, episode: GroupEpisode, reason: String,
                         suppressed: Int) -> Event {
        var attributes = common(context, value: episode.peak, statistic: episode.statistic)
        attributes["outpost.anomaly.reason"] = .string(reason)
        attributes["outpost.anomaly.started"] = .int(episode.start)
        let duration = UnixNanos.seconds(time - episode.start)
        attributes["outpost.anomaly.duration_s"] = .double(roundedEstimate(duration))
        attributes["outpost.anomaly.samples"] = .int(Int64(episode.samples))
        attributes["outpost.anomaly.suppressed"] = .int(Int64(suppressed))
        attributes["outpost.group.peak_value"] = .double(roundedEstimate(episode.peak))
        attributes["outpost.group.limit"] = .double(roundedEstimate(episode.limit))
        let verb = switch reason {
        case "relation_accepted": "accepted a changed relation and learns it afresh"
        case "members_changed": "changed members and learns afresh"
        default: "back in their usual relation"
        }
        let message = "\(context.series.name): \(verb) after \(formatted(duration))s (peak \(episode.statistic.symbol) "
            + "\(formatted(episode.peak)), limit \(formatted(episode.limit)))"
        return Event(name: .anomalyResolved, severity: .info, time: time, series: context.series, message: message,
                     attributes: attributes)
    }

    private static func common(_ context: Context, value: Double, statistic: GroupStatistic) -> Attributes {
        var attributes = Attributes()
        attributes["outpost.series"] = .string(context.series.name)
        attributes["outpost.value"] = .double(roundedEstimate(value))
        attributes["outpost.unit"] = .string(context.series.unit)
        attributes["outpost.detector"] = .string("group.pca")
        attributes["outpost.anomaly.rule"] = .string("group")
        attributes["outpost.group"] = .string(context.configuration.name)
        attributes["outpost.group.statistic"] = .string(statistic.rawValue)
        return attributes
    }

    /// "a", "a and b", "a, b and c".
    private static func sentence(_ names: [String]) -> String {
        guard names.count > 1 else { return names.first ?? "" }
        return names.dropLast().joined(separator: ", ") + " and " + names.last!
    }

    /// How members are named in messages: their names without the part every member shares (`pump.`), underscores
    /// as spaces, and the attributes that tell apart members of one name.
    static func labels(for members: [Series]) -> [String] {
        let names = members.map(\.name)
        var prefix = ""
        if names.count > 1, let first = names.first {
            let parts = first.split(separator: ".", omittingEmptySubsequences: false)
            for count in stride(from: parts.count - 1, to: 0, by: -1) {
                let candidate = parts.prefix(count).joined(separator: ".") + "."
                if names.allSatisfy({ $0.hasPrefix(candidate) && $0.count > candidate.count }) {
                    prefix = candidate
                    break
                }
            }
        }
        return members.map { member in
            var label = String(member.name.dropFirst(prefix.count)).replacing("_", with: " ")
            let namesakes = members.filter { $0.name == member.name }
            if namesakes.count > 1 {
                let distinguishing = member.attributes.entries.filter { entry in
                    !namesakes.allSatisfy { $0.attributes[entry.key] == entry.value }
                }
                label += " (" + distinguishing.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
            }
            return label
        }
    }
}
