import OutpostCore

/// Lines up the members of a group in time: it keeps each member's latest value and forms a group sample once every
/// member has reported since the previous one, stamped with the newest member's time.
///
/// A member whose latest value is older than its tolerance beside the newest (three of its own usual intervals, or
/// the configured `tolerance`), or that reported a sensor fault since, suspends the group: no sample is formed, so a
/// stale reading never enters the model or the statistics; the group resumes once the member reports again. Members
/// sampled at different rates are fine: the group samples at the slowest member's rate with the others' latest
/// values.
struct GroupAlignment: Sendable {
    private var values: [Double] = []
    private var times: [Int64] = []
    /// Reported since the last group sample.
    private var fresh: [Bool] = []
    private var faulted: [Bool] = []
    /// Each member's usual interval (nanoseconds, exponentially weighted; 0 until it has reported twice).
    private var intervals: [Double] = []
    private var intervalCounts: [Int] = []
    private let tolerance: GroupConfiguration.Tolerance
    /// The newest member time seen.
    private(set) var newest: Int64 = .min

    init(tolerance: GroupConfiguration.Tolerance) { self.tolerance = tolerance }

    var count: Int { values.count }

    mutating func add() {
        values.append(.nan)
        times.append(.min)
        fresh.append(false)
        faulted.append(false)
        intervals.append(0)
        intervalCounts.append(0)
    }

    mutating func remove(_ member: Int) {
        values.remove(at: member)
        times.remove(at: member)
        fresh.remove(at: member)
        faulted.remove(at: member)
        intervals.remove(at: member)
        intervalCounts.remove(at: member)
    }

    /// Notes a member's sample; returns the group sample it completes, if any.
    mutating func note(member: Int, time: Int64, value: Double) -> (time: Int64, values: [Double])? {
        if times[member] != .min, time > times[member] { learnInterval(member, Double(time - times[member])) }
        values[member] = value
        times[member] = max(times[member], time)
        fresh[member] = true
        faulted[member] = false
        newest = max(newest, time)
        guard fresh.allSatisfy({ $0 }), staleMember == nil else { return nil }
        for index in fresh.indices { fresh[index] = false }
        return (newest, values)
    }

    /// A member's reading failed: its latest value no longer stands for it.
    mutating func fault(member: Int) {
        faulted[member] = true
        fresh[member] = false
    }

    /// The first member that keeps the group from forming samples now: in fault, or older than its tolerance beside
    /// the newest member; nil when none does.
    var staleMember: Int? {
        values.indices.first { member in
            if faulted[member] || times[member] == .min { return true }
            guard let limit = limit(member) else { return false }
            return Double(newest - times[member]) > limit
        }
    }

    /// How old the member's value may be beside the newest (nil while its interval is unknown: it is not judged).
    private func limit(_ member: Int) -> Double? {
        switch tolerance {
        case .duration(let duration): Double(UnixNanos.from(duration))
        case .auto: intervalCounts[member] > 0 ? 3 * intervals[member] : nil
        }
    }

    /// The usual gap, each new gap clipped at three times the current estimate so that one outage does not stretch
    /// it.
    private mutating func learnInterval(_ member: Int, _ gap: Double) {
        guard intervalCounts[member] > 0 else {
            intervals[member] = gap
            intervalCounts[member] = 1
            return
        }
        let weight = max(1 / (Double(intervalCounts[member]) + 1), 1 / 100.0)
        intervals[member] += weight * (min(gap, 3 * intervals[member]) - intervals[member])
        intervalCounts[member] += 1
    }
}
