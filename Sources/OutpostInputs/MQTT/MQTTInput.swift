import OutpostCore
import OutpostMQTT

/// Readings published to an MQTT broker: plain numbers or JSON fields, one series per device and field.
///
/// A malformed payload, a wrong type, an oversized message, a value that cannot be true (NaN, ±Inf, 140 %) or a
/// new series beyond `max_series` is counted and reported as a `problem` (which the runtime logs at most once per
/// `problem_interval`), and the input goes on with the next message.
package struct MQTTInput: Input, InputKind {
    package static let kind = "mqtt"
    package let configuration: MQTTInputConfiguration
    private let client: MQTTClient
    private let wallClock: any WallClock

    package var name: String { configuration.identity.name }
    package var interval: Duration? { configuration.interval }

    package static func read(_ reader: ConfigReader, context: InputContext) -> (any InputSettings)? {
        guard let configuration = MQTTInputConfiguration.read(reader) else { return nil }
        guard context.brokers.contains(configuration.broker) else {
            reader.invalid("broker", "no [mqtt.brokers.\(configuration.broker)] is configured")
            return nil
        }
        return configuration
    }

    package init(configuration: MQTTInputConfiguration, client: MQTTClient, wallClock: any WallClock) {
        self.configuration = configuration
        self.client = client
        self.wallClock = wallClock
    }

    package func run(into sink: any ReadingSink) async throws {
        var parser = MQTTPayloadParser(configuration: configuration)
        for await message in client.subscribe(configuration.topics) {
            let readings = parser.readings(for: message, now: wallClock.nowNanos())
            if !readings.isEmpty { await sink.accept(readings) }
        }
    }
}

/// Turns one MQTT message into readings. Pure and synchronous, so it is tested (and fuzzed) without a broker.
package struct MQTTPayloadParser: Sendable {
    static let maximumDeviceName = 256
    package let configuration: MQTTInputConfiguration
    private var series: SeriesTable

    package init(configuration: MQTTInputConfiguration) {
        self.configuration = configuration
        self.series = configuration.seriesTable
    }

    /// New series refused because `max_series` was reached.
    package var refusedSeries: Int { series.refused }

    package mutating func readings(for message: MQTTMessage, now: Int64) -> [Reading] {
        let levels = message.topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if configuration.preset == "zigbee2mqtt", levels.count > 1, levels[1] == "bridge" { return [] }
        if configuration.preset == "zigbee2mqtt", let last = levels.last, ["set", "get", "availability"].contains(last) {
            return []
        }
        guard message.payload.count <= configuration.maxPayload else {
            return [.problem("\(message.topic): \(message.payload.count)-byte message exceeds max_payload "
                + "\(configuration.maxPayload); skipped")]
        }
        let device = deviceName(levels)
        // A topic may be 64 KiB; a device name that long would be kept in every series it makes.
        guard device.utf8.count <= Self.maximumDeviceName else {
            return [.problem("\(message.topic.prefix(80))…: device name longer than \(Self.maximumDeviceName) bytes; "
                + "skipped")]
        }
        let text = String(decoding: message.payload, as: UTF8.self)
        let trimmed = text.trimmingSpaces()
        let wantsJSON = configuration.format == .json || (configuration.format == .auto && trimmed.hasPrefix("{"))
        if !wantsJSON {
            let quoted = trimmed.count >= 2 && trimmed.hasPrefix("\"") && trimmed.hasSuffix("\"")
            let candidate = quoted ? String(trimmed.dropFirst().dropLast()) : trimmed
            // The same number syntax as JSON (`JSONReadingRule`): never hexadecimal, `inf` or padded text.
            guard JSONReadingRule.isStrictDecimal(candidate), let value = Double(candidate) else {
                let shown = String(trimmed.prefix(40)).escapingInvisibles
                return [.problem("\(message.topic): `\(shown)` is not a number; skipped")]
            }
            return readings(of: [(nil, value)], device: device, topic: message.topic, now: now)
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(text)
        } catch {
            return [.problem("\(message.topic): \(error); skipped")]
        }
        let found = configuration.json.values(of: document, fields: configuration.fields)
        let problems = found.problems.map { Reading.problem("\(message.topic): \($0.field): \($0.reason); skipped") }
        guard !found.readings.isEmpty else {
            let wanted = configuration.fields.isEmpty ? "" : " of \(configuration.fields)"
            return problems.isEmpty
                ? [.problem("\(message.topic): no numeric field\(wanted) in the payload; skipped")] : problems
        }
        return readings(of: found.readings.map { ($0.field, $0.value) }, device: device, topic: message.topic,
                        now: now) + problems
    }

    /// Samples, a problem per value that cannot be true, and one problem for all the fields refused by
    /// `max_series` (a payload with thousands of new fields is one line, not thousands).
    private mutating func readings(of values: [(String?, Double)], device: String, topic: String, now: Int64)
        -> [Reading]
    {
        var refused: [String] = []
        var readings = values.compactMap { field, value in
            reading(field: field, value: value, device: device, topic: topic, now: now, refused: &refused)
        }
        if let problem = series.refusal(topic, keys: refused) { readings.append(.problem(problem)) }
        return readings + series.takeForgotten()
    }

    /// A sample, a problem when the value cannot be true, or nil (noted in `refused`) past `max_series`.
    private mutating func reading(field: String?, value: Double, device: String, topic: String, now: Int64,
                                  refused: inout [String]) -> Reading?
    {
        let prefix = "\(topic): \(field.map { "\($0): " } ?? "")"
        // Checked before a series is made, so a flood of NaN from invented devices takes no place in the table.
        if let problem = Plausibility.problem(with: value, unit: "") { return .problem("\(prefix)\(problem); skipped") }
        let key = (field ?? "") + "\u{0}" + device
        let configuration = configuration
        guard let series = series.series(for: key, now: now, make: {
            Self.makeSeries(field: field, device: device, configuration: configuration)
        }) else {
            refused.append([device, field].compactMap { $0 }.joined(separator: "."))
            return nil
        }
        if let problem = Plausibility.problem(with: value, unit: series.unit) {
            return .problem("\(prefix)\(problem); skipped")
        }
        return .sample(Sample(series: series, time: now, value: value))
    }

    /// The `device` attribute. Zigbee2MQTT publishes `<base>/<friendly name>` and friendly names may contain `/`
    /// (its docs suggest `kitchen/sensor1` for grouping), so with that preset the device is everything after the
    /// base topic; otherwise the last level, unless `device_level` picks one.
    private func deviceName(_ levels: [String]) -> String {
        if let level = configuration.deviceLevel, level >= 1, level <= levels.count { return levels[level - 1] }
        if configuration.preset == "zigbee2mqtt", levels.count > 1 { return levels.dropFirst().joined(separator: "/") }
        return levels.last ?? ""
    }

    private static func makeSeries(field: String?, device: String, configuration: MQTTInputConfiguration) -> Series {
        let leaf = field.map { String($0.split(separator: ".").last ?? Substring($0)) }
        let unit = field.flatMap {
            configuration.units[$0] ?? configuration.units[$0.lowercased()] ?? configuration.units[leaf?.lowercased() ?? ""]
        } ?? configuration.identity.unit
        var extra = Attributes()
        extra.set("device", ifPresent: device)
        return configuration.identity.series(suffix: field, unit: unit, extra: extra)
    }
}

extension MQTTInputConfiguration: InputSettings {
    package var name: String { identity.name }
    package var expectedInterval: Duration? { interval }

    /// Takes the broker's shared client, created by the runtime at start.
    package func makeInput(_ resources: InputResources) throws -> any Input {
        guard let client = try resources.mqtt?.client(named: broker) else {
            throw StartupError("[[input.mqtt]] \(identity.name): no [mqtt.brokers.\(broker)] is configured")
        }
        return MQTTInput(configuration: self, client: client, wallClock: resources.wallClock)
    }
}
