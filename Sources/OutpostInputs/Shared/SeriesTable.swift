import OutpostCore

/// The series an input makes from what it reads (MQTT device names, JSON fields, exec keys), at most `limit`.
///
/// Anyone who can publish to a subscribed topic can invent device names; without a cap every new name would add a
/// series, a detector and staleness state for good. A new key beyond the cap is refused and counted; a key not
/// seen for `idleAfter` is forgotten when room is needed, so a fleet that changes slowly keeps working.
package struct SeriesTable: Sendable {
    /// `max_series`, default 1000: enough for a large Zigbee network (5 fields × 200 devices).
    package static let defaultLimit = 1000
    /// `series_idle`, default one day: a device silent that long gives its place to a new one.
    package static let defaultIdle: Duration = .seconds(86_400)

    private struct Entry {
        let series: Series
        var lastSeen: Int64
    }

    package let limit: Int
    package let idleAfter: Int64
    private var entries: [String: Entry] = [:]
    private var lastSweep: Int64?
    /// New keys refused because the table was full, since the start.
    package private(set) var refused = 0
    /// Series dropped by the last sweeps, not yet handed on (`takeForgotten`).
    private var forgotten: [Series] = []

    package init(limit: Int = defaultLimit, idleAfter: Duration = defaultIdle) {
        self.limit = limit
        self.idleAfter = UnixNanos.from(idleAfter)
    }

    package var count: Int { entries.count }

    /// The series for `key` (made by `make` the first time), or nil when the table is full of active series.
    package mutating func series(for key: String, now: Int64, make: () -> Series) -> Series? {
        if let existing = entries[key] {
            entries[key]?.lastSeen = now
            return existing.series
        }
        if entries.count >= limit { forgetIdle(now: now) }
        guard entries.count < limit else {
            refused += 1
            return nil
        }
        let made = make()
        entries[key] = Entry(series: made, lastSeen: now)
        return made
    }

    /// Drops keys idle for `idleAfter`; a full table is swept at most once a minute, so a flood of new names
    /// costs one dictionary lookup each, not a scan.
    private mutating func forgetIdle(now: Int64) {
        if let lastSweep, UnixNanos.difference(from: lastSweep, to: now) < 60 * UnixNanos.perSecond { return }
        lastSweep = now
        let idle = entries.filter { UnixNanos.difference(from: $0.value.lastSeen, to: now) >= idleAfter }
        for (key, entry) in idle {
            entries[key] = nil
            forgotten.append(entry.series)
        }
    }

    /// The series forgotten since the last call, as readings that tell detection to forget them as well.
    package mutating func takeForgotten() -> [Reading] {
        defer { forgotten = [] }
        return forgotten.map { .forgotten($0) }
    }

    /// The one problem an input reports for the keys it refused in one read or message (the first one named).
    package func refusal(_ input: String, keys: [String]) -> String? {
        guard let first = keys.first else { return nil }
        let others = keys.count > 1 ? " and \(keys.count - 1) more" : ""
        return "\(input): max_series \(limit) reached; new series `\(first.escapingInvisibles.prefix(80))`\(others) "
            + "refused (\(refused) refused since start); raise max_series or narrow topics/fields"
    }
}

extension SeriesTable {
    /// `max_series` (1 to 100000) and `series_idle` from an input's table.
    package static func read(_ reader: ConfigReader) -> SeriesTable {
        SeriesTable(limit: reader.int("max_series", in: 1...100_000, default: defaultLimit),
                    idleAfter: reader.positiveDuration("series_idle", default: defaultIdle))
    }
}
