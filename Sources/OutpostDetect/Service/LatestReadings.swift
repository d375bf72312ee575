import OutpostCore

/// Each series' latest reading, for the periodic `readings:` log line: its value, or `fault` once the sensor
/// reported a fault (`outpost.sensor.fault`) and until it reads well again, so the line never shows a stale value
/// as if it were current.
struct LatestReadings {
    private enum Latest {
        case value(Double)
        case fault
    }

    private var latest: [Series: Latest] = [:]

    mutating func record(_ sample: Sample) {
        latest[sample.series] = .value(sample.value)
    }

    mutating func fault(_ series: Series) {
        latest[series] = .fault
    }

    mutating func forget(_ series: Series) {
        latest[series] = nil
    }

    /// Every series' latest value (nil while in fault), for the local endpoint's `/metrics?series=1`.
    var values: [(series: Series, value: Double?)] {
        latest.map { series, reading in
            switch reading {
            case .value(let value): (series, value)
            case .fault: (series, nil)
            }
        }
    }

    /// `name=value unit` pairs, sensors first (what the operator configured) and host health after, at most
    /// `limit` of them and a count of the rest; nil before any reading.
    func line(limit: Int = 12) -> String? {
        guard !latest.isEmpty else { return nil }
        let shown = latest.sorted { lhs, rhs in
            let lhsHost = Self.isHostSeries(lhs.key), rhsHost = Self.isHostSeries(rhs.key)
            return lhsHost == rhsHost ? lhs.key.key < rhs.key.key : !lhsHost
        }
        let parts = shown.prefix(limit).map { series, reading in
            switch reading {
            case .value(let value): "\(Self.label(series))=\(Self.short(value))\(Self.unit(series))"
            case .fault: "\(Self.label(series))=fault"
            }
        }
        let more = shown.count > limit ? " (+\(shown.count - limit) more)" : ""
        return parts.joined(separator: "  ") + more
    }

    private static func isHostSeries(_ series: Series) -> Bool {
        series.name.hasPrefix("system.") || series.name.hasPrefix("hw.") || series.name.hasPrefix("outpost.")
    }

    /// `name[eth0,receive]`: the name plus the attribute values that tell series of one name apart; identity
    /// attributes are left out.
    private static func label(_ series: Series) -> String {
        let identity: Set<String> = ["sensor.id", "device", "location"]
        let distinguishing = series.attributes.entries.filter { !identity.contains($0.key) }.map { "\($0.value)" }
        return distinguishing.isEmpty ? series.name : "\(series.name)[\(distinguishing.joined(separator: ","))]"
    }

    private static func short(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int64(rounded)) : String(rounded)
    }

    private static func unit(_ series: Series) -> String {
        ["", "1"].contains(series.unit) ? "" : " " + series.unit
    }
}
