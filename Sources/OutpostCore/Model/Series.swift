/// How a series' values relate over time, which decides how it is detected and exported.
package enum SeriesKind: String, Sendable, Hashable {
    /// A value measured at an instant (a temperature, a signal level).
    case gauge
    /// A monotonically increasing total (bytes received); exported as a cumulative sum.
    case counter
}

/// One named stream of values: metric name, UCUM unit and identifying attributes.
///
/// A series is created once by its input and shared by reference with every sample, so a sample stays three words
/// wide and the detectors key their state on it cheaply. Two series with the same name, unit and attributes are
/// equal, whoever created them.
package final class Series: Sendable, Hashable, CustomStringConvertible {
    package let name: String
    /// UCUM unit: `Cel`, `%`, `hPa`, `dBm`, `By`, `1`, `s`.
    package let unit: String
    package let kind: SeriesKind
    package let attributes: Attributes
    /// `name{k=v,...}`: unique per series, used for glob matching, logs and replay summaries.
    package let key: String
    private let hashValueCache: Int

    package init(name: String, unit: String, kind: SeriesKind = .gauge, attributes: Attributes = Attributes()) {
        self.name = name
        self.unit = unit
        self.kind = kind
        self.attributes = attributes
        self.key = Series.makeKey(name: name, attributes: attributes)
        self.hashValueCache = key.hashValue
    }

    package var description: String { key }

    package static func == (lhs: Series, rhs: Series) -> Bool {
        lhs === rhs || (lhs.key == rhs.key && lhs.unit == rhs.unit && lhs.kind == rhs.kind)
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(hashValueCache)
    }

    private static func makeKey(name: String, attributes: Attributes) -> String {
        guard !attributes.isEmpty else { return name }
        let pairs = attributes.entries.map { "\($0.key)=\($0.value)" }
        return name + "{" + pairs.joined(separator: ",") + "}"
    }
}
