import OutpostCore
import OutpostMQTT

/// Readings published to an MQTT broker: plain numbers or JSON fields, one series per device and field.
///
/// A malformed payload, a wrong type or an oversized message is counted and reported as a `problem` (which the
/// runtime logs at most once per `problem_interval`), and the input goes on with the next message.
public struct MQTTInput: Input, InputKind {
    public static let kind = "mqtt"
    public let configuration: MQTTInputConfiguration
    private let client: MQTTClient
    private let wallClock: any WallClock

    public var name: String { configuration.identity.name }
    public var interval: Duration? { configuration.interval }

    public static func make(from reader: ConfigReader, context: InputContext) -> (any Input)? {
        guard let configuration = MQTTInputConfiguration.read(reader) else { return nil }
        guard let client = try? context.mqtt?.client(named: configuration.broker) else {
            reader.invalid("broker", "no [mqtt.brokers.\(configuration.broker)] is configured")
            return nil
        }
        return MQTTInput(configuration: configuration, client: client, wallClock: context.wallClock)
    }

    public init(configuration: MQTTInputConfiguration, client: MQTTClient, wallClock: any WallClock) {
        self.configuration = configuration
        self.client = client
        self.wallClock = wallClock
    }

    public func run(into sink: any ReadingSink) async throws {
        var parser = MQTTPayloadParser(configuration: configuration)
        for await message in client.subscribe(configuration.topics) {
            let readings = parser.readings(for: message, now: wallClock.nowNanos())
            if !readings.isEmpty { await sink.accept(readings) }
        }
    }
}

/// Turns one MQTT message into readings. Pure and synchronous, so it is tested (and fuzzed) without a broker.
public struct MQTTPayloadParser: Sendable {
    public let configuration: MQTTInputConfiguration
    private var series: [String: Series] = [:]

    public init(configuration: MQTTInputConfiguration) {
        self.configuration = configuration
    }

    public mutating func readings(for message: MQTTMessage, now: Int64) -> [Reading] {
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
        let text = String(decoding: message.payload, as: UTF8.self)
        let trimmed = text.trimmingSpaces()
        let wantsJSON = configuration.format == .json || (configuration.format == .auto && trimmed.hasPrefix("{"))
        if !wantsJSON {
            guard let value = Double(trimmed.hasPrefix("\"") ? String(trimmed.dropFirst().dropLast()) : trimmed),
                value.isFinite
            else {
                return [.problem("\(message.topic): `\(trimmed.prefix(40))` is not a number; skipped")]
            }
            return [.sample(Sample(series: seriesFor(field: nil, device: device), time: now, value: value))]
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(text)
        } catch {
            return [.problem("\(message.topic): \(error); skipped")]
        }
        var values: [(String, Double)] = []
        Self.flatten(document, prefix: "", into: &values, depth: 0)
        let kept = values.filter { configuration.fields.isEmpty || configuration.fields.contains($0.0) }
        guard !kept.isEmpty else {
            return [.problem("\(message.topic): no numeric field\(configuration.fields.isEmpty ? "" : " of \(configuration.fields)") in the payload; skipped")]
        }
        return kept.map { field, value in
            .sample(Sample(series: seriesFor(field: field, device: device), time: now, value: value))
        }
    }

    /// Numeric (and boolean) leaves of a JSON object, lowercase dotted paths, arrays and deep nesting left out.
    static func flatten(_ value: JSONValue, prefix: String, into values: inout [(String, Double)], depth: Int) {
        guard depth < 4, case .object(let members) = value else { return }
        for (key, member) in members {
            let path = (prefix.isEmpty ? "" : prefix + ".") + key.lowercased()
            switch member {
            case .object: flatten(member, prefix: path, into: &values, depth: depth + 1)
            case .number(let number) where number.isFinite: values.append((path, number))
            case .bool(let flag): values.append((path, flag ? 1 : 0))
            default: continue
            }
        }
    }

    private func deviceName(_ levels: [String]) -> String {
        if let level = configuration.deviceLevel, level >= 1, level <= levels.count { return levels[level - 1] }
        return levels.last ?? ""
    }

    private mutating func seriesFor(field: String?, device: String) -> Series {
        let key = (field ?? "") + "\u{0}" + device
        if let existing = series[key] { return existing }
        let leaf = field.map { String($0.split(separator: ".").last ?? Substring($0)) }
        let unit = field.flatMap { configuration.units[$0] ?? configuration.units[leaf ?? ""] } ?? configuration.identity.unit
        var extra = Attributes()
        extra.set("device", ifPresent: device)
        let made = configuration.identity.series(suffix: field, unit: unit, extra: extra)
        series[key] = made
        return made
    }
}
