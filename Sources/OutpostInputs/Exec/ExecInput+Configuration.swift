import OutpostCore

/// `[[input.exec]]`: runs a command at an interval and parses numbers from its standard output.
package struct ExecInputConfiguration: Sendable {
    package enum Format: String, Sendable, CaseIterable {
        /// The first number in the output (or the `regex` capture): one series named `name`.
        case number
        /// `key=value` lines: one series `name.key` per numeric value.
        case keyValue = "key_value"
        /// A JSON document: one series `name.field` per entry of `fields` (dotted paths).
        case json
    }

    /// `command` (required): an array (`["vcgencmd", "measure_temp"]`, run directly, found on PATH) or a string
    /// (run by `/bin/sh -c`, for pipelines).
    package var command: [String]
    /// `name`, `unit`, `sensor_id`, `device`, `location`, `attributes`: see `SensorIdentity`.
    package var identity: SensorIdentity
    /// `interval`, default `"30s"`.
    package var interval: Duration = .seconds(30)
    /// `timeout`, default `"5s"`: the command's whole process group is killed after it.
    package var timeout: Duration = .seconds(5)
    /// `format`, default `"number"`: `number`, `key_value` or `json`.
    package var format = Format.number
    /// `fields`, default every reading: for `json`, dotted paths (`"sensor.temp"`, nested objects flattened as in
    /// `JSONReadingRule`); for `key_value`, the keys to keep.
    package var fields: [String] = []
    /// `units`, default `{}`: a unit per field, e.g. `{ temperature = "Cel" }`; others use `unit`.
    package var units: [String: String] = [:]
    /// `regex`, `scale`, `offset`: see `NumberExtraction` (scale and offset apply to every format).
    package var extraction: NumberExtraction
    /// `max_output`, default `"64KiB"` (at most `"16MiB"`): output beyond this is ignored.
    package var maxOutput = 64 * 1024
    /// `max_series`, default 1000, and `series_idle`, default `"1d"`: see `SeriesTable`.
    package var seriesTable = SeriesTable()
    /// `json_keys`, default `"lower"`, and `json_strings`, default `"skip"`: how `format = "json"` reads a document,
    /// the same rule as `[[input.mqtt]]` (`JSONReadingRule`).
    package var json = JSONReadingRule()

    static func read(_ reader: ConfigReader) -> ExecInputConfiguration? {
        var command: [String]?
        if let node = reader.node("command") {
            if case .string(let line) = node.value {
                command = ["/bin/sh", "-c", line]
            } else {
                command = reader.strings("command")
            }
        } else {
            reader.missing("command", "give the command to run, e.g. command = [\"vcgencmd\", \"measure_temp\"]")
        }
        if command?.isEmpty == true { reader.invalid("command", "must not be empty") }
        let identity = SensorIdentity.read(reader)
        let extraction = NumberExtraction.read(reader)
        let interval = reader.positiveDuration("interval", default: .seconds(30))
        let timeout = reader.positiveDuration("timeout", default: .seconds(5))
        let format = Format(rawValue: reader.choice("format", Format.allCases.map(\.rawValue), default: "number"))
        let fields = reader.strings("fields") ?? []
        let units = Dictionary(reader.stringMap("units").map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        let seriesTable = SeriesTable.read(reader)
        let maxOutput = reader.size("max_output", in: 1...16 << 20, default: 64 * 1024)
        let json = JSONReadingRule.read(reader)
        reader.finish()
        guard let command, !command.isEmpty else { return nil }
        var configuration = ExecInputConfiguration(command: command, identity: identity, extraction: extraction)
        configuration.interval = interval
        configuration.timeout = timeout
        configuration.format = format ?? .number
        configuration.fields = fields
        configuration.units = units
        configuration.maxOutput = Int(clamping: maxOutput)
        configuration.seriesTable = seriesTable
        configuration.json = json
        return configuration
    }
}
