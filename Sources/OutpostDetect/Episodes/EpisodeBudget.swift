/// Which episodes are sent: at most `max_episodes_per_hour` and `max_episodes_per_day` per series (or per group of
/// series), and none that keeps a rhythm (a recurring condition, counted once).
///
/// An episode keeps a rhythm when it and the four before it in the same direction came at gaps that all lie within
/// `recurrence_tolerance` of the newest gap: a job that drives the CPU to 100 % every hour is one ongoing condition,
/// not 24 alerts a day. Episodes kept quiet are counted (`suppressed`), never lost from the totals.
struct EpisodeBudget: Sendable {
    private static let hour: Int64 = 3_600 * 1_000_000_000
    private static let day: Int64 = 24 * hour
    private let perHour: Int
    private let perDay: Int
    private let tolerance: Double
    /// Raise times within the last day, oldest first.
    private var raised: [Int64] = []
    /// Start times of the newest episodes that rose, and that fell (sent or not), oldest first.
    private var rises: [Int64] = []
    private var drops: [Int64] = []

    /// Why an episode is not sent.
    enum Refusal: String, Sendable {
        case recurring, hourly, daily
    }

    init(configuration: AnomalyConfiguration) {
        self.init(perHour: configuration.maxEpisodesPerHour, perDay: configuration.maxEpisodesPerDay,
                  tolerance: configuration.recurrenceTolerance)
    }

    init(perHour: Int, perDay: Int, tolerance: Double) {
        self.perHour = perHour
        self.perDay = perDay
        self.tolerance = tolerance
    }

    /// Decides whether an episode starting at `time` is sent, and counts it if so. `rising` is its direction;
    /// nil for episodes without one (a stuck sensor), which never count as recurring.
    mutating func admit(at time: Int64, rising: Bool?) -> Refusal? {
        if let rising, keepsRhythm(at: time, rising: rising) { return .recurring }
        raised.removeAll { time - $0 >= Self.day }
        if perDay > 0, raised.count >= perDay { return .daily }
        if perHour > 0, raised.count(where: { time - $0 < Self.hour }) >= perHour { return .hourly }
        raised.append(time)
        return nil
    }

    private mutating func keepsRhythm(at time: Int64, rising: Bool) -> Bool {
        var starts = rising ? rises : drops
        starts.append(time)
        if starts.count > 5 { starts.removeFirst(starts.count - 5) }
        if rising { rises = starts } else { drops = starts }
        guard tolerance > 0, starts.count == 5 else { return false }
        let newest = Double(starts[4] - starts[3])
        guard newest > 0 else { return false }
        return (1..<5).allSatisfy { abs(Double(starts[$0] - starts[$0 - 1]) - newest) <= tolerance * newest }
    }
}
