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
        let subscription = client.subscribe(configuration.topics, buffer: configuration.buffer)
        for await message in subscription.messages {
            var readings = parser.readings(for: message, now: wallClock.nowNanos())
            let dropped = subscription.dropped.take()
            if dropped > 0 { readings.append(.problem(Self.overflow(dropped, buffer: configuration.buffer))) }
            if !readings.isEmpty { await sink.accept(readings) }
        }
    }

    /// Messages the broker had delivered (and had its PUBACK for) that the input had no room for.
    static func overflow(_ dropped: Int, buffer: Int) -> String {
        "\(dropped) message(s) dropped: more arrived at once than the input's buffer of \(buffer) holds (a persistent "
            + "session's backlog at reconnect?); raise buffer, or narrow topics"
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
            return readings(of: [(nil, value, nil)], device: device, topic: message.topic, now: now)
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(text)
        } catch {
            return [.problem("\(message.topic): \(error); skipped")]
        }
        var problems: [Reading] = []
        let stamp = deviceTime(in: document, now: now, topic: message.topic, problems: &problems)
        var found: [(field: String, value: Double, sensorID: String?)] = []
        for group in groups(of: document) {
            let fields = group.sensorID == nil ? configuration.fields : []
            let values = configuration.json.values(of: group.document, fields: fields)
            for reading in values.readings {
                let field = group.prefix.map { "\($0).\(reading.field)" } ?? reading.field
                guard group.sensorID == nil || configuration.fields.isEmpty || wanted(field) else { continue }
                found.append((field, reading.value, group.sensorID))
            }
            problems += values.problems.map { .problem("\(message.topic): \($0.field): \($0.reason); skipped") }
        }
        guard !found.isEmpty else {
            let wanted = configuration.fields.isEmpty ? "" : " of \(configuration.fields)"
            return problems.isEmpty
                ? [.problem("\(message.topic): no numeric field\(wanted) in the payload; skipped")] : problems
        }
        return readings(of: found, device: device, topic: message.topic, now: stamp) + problems
    }

    /// A part of a payload read on its own: Tasmota's 1-Wire probes (`"DS18B20-1": {"Id": "01144A0CB2AA", ...}`) are
    /// numbered by position, which changes when a probe drops out or after a reboot; their `Id` (the 1-Wire address)
    /// is what stays. Each such object becomes fields `<type>.<field>` (`ds18b20.temperature`) with `sensor.id` set to
    /// its `Id`, so two probes never splice into one series.
    private struct Group {
        var prefix: String?
        var sensorID: String?
        var document: JSONValue
    }

    private func groups(of document: JSONValue) -> [Group] {
        guard case .object(var members) = document else { return [Group(document: document)] }
        if let timeField = configuration.timeField { members.removeAll { $0.0.lowercased() == timeField.lowercased() } }
        guard configuration.preset == "tasmota" else { return [Group(document: .object(members))] }
        var rest: [(String, JSONValue)] = []
        var groups: [Group] = []
        for (key, value) in members {
            guard case .object(let inner) = value, let id = inner.first(where: { $0.0.lowercased() == "id" }),
                case .string(let address) = id.1, !address.isEmpty
            else {
                rest.append((key, value))
                continue
            }
            groups.append(Group(prefix: MetricName.field(Self.withoutPosition(key).lowercased()),
                                sensorID: String(address.prefix(64)),
                                document: .object(inner.filter { $0.0.lowercased() != "id" })))
        }
        return [Group(document: .object(rest))] + groups
    }

    /// `DS18B20-2` → `DS18B20`: Tasmota's position suffix.
    static func withoutPosition(_ key: String) -> String {
        guard let dash = key.lastIndex(of: "-"), key[key.index(after: dash)...].allSatisfy(\.isASCIIDigit),
            key.index(after: dash) < key.endIndex
        else { return key }
        return String(key[..<dash])
    }

    private func wanted(_ field: String) -> Bool {
        configuration.fields.contains { $0.lowercased() == field.lowercased() }
    }

    /// The time the payload says the device took its readings (`time_field`), else `now`. Only trusted when Outpost's
    /// own clock is (a provisional stamp is negative) and the time is within a week before `now` and five minutes
    /// after; otherwise the readings are stamped on arrival and the reason is a problem.
    private func deviceTime(in document: JSONValue, now: Int64, topic: String, problems: inout [Reading]) -> Int64 {
        guard let field = configuration.timeField, now > 0, case .object(let members) = document,
            let value = members.last(where: { $0.0.lowercased() == field.lowercased() })?.1
        else { return now }
        switch DeviceTime.stamp(value, now: now) {
        case .success(let stamp): return stamp
        case .failure(let reason):
            problems.append(.problem("\(topic): \(field): \(reason); stamped on arrival"))
            return now
        }
    }

    /// Samples, a problem per value that cannot be true, and one problem for all the fields refused by
    /// `max_series` (a payload with thousands of new fields is one line, not thousands).
    private mutating func readings(of values: [(field: String?, value: Double, sensorID: String?)], device: String,
                                   topic: String, now: Int64) -> [Reading]
    {
        var refused: [String] = []
        var readings = values.compactMap { field, value, sensorID in
            reading(field: field, value: value, device: device, sensorID: sensorID, topic: topic, now: now,
                    refused: &refused)
        }
        if let problem = series.refusal(topic, keys: refused) { readings.append(.problem(problem)) }
        return readings + series.takeForgotten()
    }

    /// A sample, a problem when the value cannot be true, or nil (noted in `refused`) past `max_series`.
    private mutating func reading(field: String?, value: Double, device: String, sensorID: String?, topic: String,
                                  now: Int64, refused: inout [String]) -> Reading?
    {
        let prefix = "\(topic): \(field.map { "\($0): " } ?? "")"
        // Checked before a series is made, so a flood of NaN from invented devices takes no place in the table.
        if let problem = Plausibility.problem(with: value, unit: "") { return .problem("\(prefix)\(problem); skipped") }
        let key = (field ?? "") + "\u{0}" + device + "\u{0}" + (sensorID ?? "")
        let configuration = configuration
        guard let series = series.series(for: key, now: now, make: {
            Self.makeSeries(field: field, device: device, sensorID: sensorID, configuration: configuration)
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

    private static func makeSeries(field: String?, device: String, sensorID: String?,
                                   configuration: MQTTInputConfiguration) -> Series {
        let leaf = field.map { String($0.split(separator: ".").last ?? Substring($0)) }
        let unit = field.flatMap {
            configuration.units[$0] ?? configuration.units[$0.lowercased()]
                ?? configuration.units[leaf?.lowercased() ?? ""]
        } ?? configuration.identity.unit
        var extra = Attributes()
        extra.set("device", ifPresent: MetricName.visible(device))
        if let sensorID { extra["sensor.id"] = .string(MetricName.visible(sensorID)) }
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
