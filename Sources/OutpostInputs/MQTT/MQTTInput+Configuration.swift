import OutpostCore

/// `[[input.mqtt]]`: readings that sensors publish to a broker (Zigbee2MQTT, Tasmota, ESPHome, custom boards).
package struct MQTTInputConfiguration: Sendable {
    package enum Format: String, Sendable, CaseIterable {
        /// A JSON object when the payload is one, else a plain number.
        case auto
        /// The payload is one number (`21.5`, `"21.5"`): series `name`.
        case number
        /// Readings of a JSON object under `JSONReadingRule`, nested ones flattened (`BME280.Temperature` →
        /// `bme280.temperature`).
        case json
    }

    /// `broker` (required): a `[mqtt.brokers.<name>]`.
    package var broker: String
    /// `topics` (required): filters with `+` and `#` wildcards, e.g. `["zigbee2mqtt/+"]`.
    package var topics: [String]
    /// `preset`, default `""`: `"zigbee2mqtt"` (device = the whole friendly name, every level after the base topic,
    /// so `kitchen/sensor1` and `garage/sensor1` stay apart; skips `bridge/...`, `/set`, `/get`, `/availability`) or
    /// `"tasmota"`
    /// (topics `tele/<device>/SENSOR`, device = second level); sets `format = "json"` and the usual units.
    package var preset = ""
    /// `format`, default `"auto"`: `auto`, `number` or `json`.
    package var format = Format.auto
    /// `fields`, default every reading: the JSON fields to keep, dotted paths matched as `JSONReadingRule` says.
    package var fields: [String] = []
    /// `json_keys`, default `"lower"`, and `json_strings`, default `"skip"`: the one JSON rule (`JSONReadingRule`).
    package var json = JSONReadingRule()
    /// `device_level`, default the last level (zigbee2mqtt: every level after the first) or 2 (tasmota): which topic
    /// level names the device, counted from 1 (1 to 64); it becomes the `device` attribute.
    package var deviceLevel: Int?
    /// `units`, default the usual ones (temperature `Cel`, humidity `%`, pressure `hPa`, battery `%`, voltage `V`,
    /// linkquality `1`, illuminance `lx`, co2 `ppm`): a unit per field.
    package var units: [String: String] = [:]
    /// `max_payload`, default `"64KiB"` (at most `"16MiB"`): bigger messages are counted and skipped.
    package var maxPayload = 64 * 1024
    /// `max_series`, default 1000, and `series_idle`, default `"1d"`: see `SeriesTable`.
    package var seriesTable = SeriesTable()
    /// `interval`, default `"5m"`: how often each device is expected to report; staleness counts in it.
    package var interval: Duration = .seconds(300)
    /// `buffer`, default 10000 (100 to 1000000): messages held for the pipeline. More arriving at once (a persistent
    /// session's backlog at reconnect) are dropped, oldest first, and counted as a problem: the broker already has
    /// its PUBACK, so they are never lost silently.
    package var buffer = 10_000
    /// `time_field`, default `"Time"` (tasmota), `"last_seen"` (zigbee2mqtt), else none: the top-level JSON field that
    /// says when the device took the reading (RFC 3339 with a zone, or unix seconds or milliseconds). Readings are
    /// stamped with it, so a backlog delivered at reconnect keeps its own times; the field itself is no reading.
    package var timeField: String?
    /// `name` (default `"mqtt"`), `unit`, `location`, `attributes`: see `SensorIdentity`. Series are
    /// `<name>.<field>` with a `device` attribute.
    package var identity: SensorIdentity

    package static let defaultUnits: [String: String] = [
        "temperature": "Cel", "humidity": "%", "pressure": "hPa", "battery": "%", "voltage": "V",
        "linkquality": "1", "illuminance": "lx", "illuminance_lux": "lx", "co2": "ppm", "power": "W",
        "energy": "kWh", "current": "A",
    ]

    static func read(_ reader: ConfigReader) -> MQTTInputConfiguration? {
        let broker = reader.requiredString("broker", hint: "name a [mqtt.brokers.<name>], e.g. broker = \"local\"")
        let topics = reader.strings("topics")
        if topics == nil { reader.missing("topics", "give the topic filters, e.g. topics = [\"zigbee2mqtt/+\"]") }
        let identity = SensorIdentity.read(reader, defaultName: "mqtt")
        var configuration = MQTTInputConfiguration(broker: broker ?? "", topics: topics ?? [], identity: identity)
        configuration.preset = reader.choice("preset", ["", "zigbee2mqtt", "tasmota"], default: "")
        let defaultFormat = configuration.preset.isEmpty ? "auto" : "json"
        configuration.format = Format(rawValue: reader.choice("format", Format.allCases.map(\.rawValue),
                                                              default: defaultFormat)) ?? .auto
        configuration.fields = reader.strings("fields") ?? []
        configuration.json = JSONReadingRule.read(reader)
        configuration.deviceLevel = reader.contains("device_level")
            ? reader.int("device_level", in: 1...64, default: 1) : (configuration.preset == "tasmota" ? 2 : nil)
        configuration.units = defaultUnits
        for (field, unit) in reader.stringMap("units") { configuration.units[field.lowercased()] = unit }
        configuration.maxPayload = Int(reader.size("max_payload", in: 1...16 << 20,
                                                   default: Int64(configuration.maxPayload)))
        configuration.interval = reader.positiveDuration("interval", default: configuration.interval)
        configuration.buffer = reader.int("buffer", in: 100...1_000_000, default: configuration.buffer)
        let defaultTimeField = ["tasmota": "Time", "zigbee2mqtt": "last_seen"][configuration.preset] ?? ""
        let timeField = reader.string("time_field", default: defaultTimeField)
        configuration.timeField = timeField.isEmpty ? nil : timeField
        configuration.seriesTable = SeriesTable.read(reader)
        reader.finish()
        guard broker != nil, topics != nil else { return nil }
        return configuration
    }
}
