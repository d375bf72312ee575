import OutpostCore
import OutpostMQTT

/// The keys every input shares to say what it measures: `name`, `unit`, `sensor_id`, `device`, `location`,
/// `attributes`. They become the series' name, unit and attributes.
package struct SensorIdentity: Sendable {
    /// `name`: the metric name, dotted lowercase (`greenhouse.air.temperature`).
    package var name: String
    /// `unit`: UCUM (`Cel`, `%`, `hPa`, `dBm`, `By`, `1`).
    package var unit: String
    package var attributes: Attributes

    package init(name: String, unit: String, attributes: Attributes = Attributes()) {
        self.name = name
        self.unit = unit
        self.attributes = attributes
    }

    /// Reads the shared keys; `name` is required unless a default is given.
    package static func read(_ reader: ConfigReader, defaultName: String? = nil, defaultUnit: String = "")
        -> SensorIdentity
    {
        let name = defaultName.map { reader.string("name", default: $0) }
            ?? reader.requiredString("name", hint: "give the series a name, e.g. name = \"greenhouse.temperature\"")
            ?? ""
        if !name.isEmpty, !isValidName(name) {
            reader.invalid("name", "`\(name)` is not a valid series name; use letters, digits, `_`, `-` and `.`")
        }
        var identity = SensorIdentity(name: name, unit: reader.string("unit", default: defaultUnit))
        identity.attributes.set("sensor.id", ifPresent: reader.string("sensor_id"))
        identity.attributes.set("device", ifPresent: reader.string("device"))
        identity.attributes.set("location", ifPresent: reader.string("location"))
        for (key, value) in reader.stringMap("attributes") {
            identity.attributes[key] = .string(value)
        }
        return identity
    }

    package func series(kind: SeriesKind = .gauge, suffix: String? = nil, unit: String? = nil,
                       extra: Attributes = Attributes()) -> Series {
        var attributes = self.attributes
        for (key, value) in extra.entries { attributes[key] = value }
        let fullName = suffix.map { name.isEmpty ? $0 : name + "." + $0 } ?? name
        return Series(name: MetricName.limited(fullName), unit: unit ?? self.unit, kind: kind, attributes: attributes)
    }

    static func isValidName(_ name: String) -> Bool {
        name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." || $0 == "/" }
    }
}
