import Foundation
import OutpostCore
import OutpostMQTT
import Testing

@testable import OutpostInputs

/// One JSON document, three ways in: an MQTT payload read as `json`, the same with the default `auto`, and a
/// command's output read as `json`. One rule, so one set of series.
@Suite("One JSON reading rule for every input")
struct JSONReadingRuleTests {
    static let document = #"""
        {"num": 21.5, "str_num": "23.5", "str_int": "42", "str_text": "ON", "bool_t": true, "bool_f": false,
         "nested": {"inner": {"deep": 1.25}, "flag": true}, "arr": [1, 2, 3], "arr_obj": [{"x": 7}], "null": null,
         "exp": 1e3, "neg": -4, "Upper": 5, "big_str": "1e999", "space_num": " 7 ", "hex_str": "0x10"}
        """#

    func mqtt(_ format: MQTTInputConfiguration.Format, rule: JSONReadingRule) -> [Reading] {
        var configuration = MQTTInputConfiguration(broker: "b", topics: ["m/+"], identity: SensorIdentity(name: "s",
                                                                                                          unit: ""))
        configuration.format = format
        configuration.json = rule
        var parser = MQTTPayloadParser(configuration: configuration)
        return parser.readings(for: MQTTMessage(topic: "m/dev1", payload: Array(Self.document.utf8)), now: 1)
    }

    func exec(rule: JSONReadingRule) async throws -> [Reading] {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("doc.json").path
        try Self.document.write(toFile: file, atomically: true, encoding: .utf8)
        var configuration = ExecInputConfiguration(command: ["cat", file], identity: SensorIdentity(name: "s", unit: ""),
                                                   extraction: try NumberExtraction())
        configuration.format = .json
        configuration.json = rule
        var reader = ExecReader(configuration: configuration)
        return await reader.read(now: 1)
    }

    func series(_ readings: [Reading]) -> [String: Double] {
        Dictionary(readings.samples.map { ($0.series.name, $0.value) }, uniquingKeysWith: { $1 })
    }

    @Test("the same document makes the same series and values through MQTT (json, auto) and exec")
    func sameSeries() async throws {
        let expected: [String: Double] = [
            "s.num": 21.5, "s.bool_t": 1, "s.bool_f": 0, "s.nested.inner.deep": 1.25, "s.nested.flag": 1,
            "s.exp": 1000, "s.neg": -4, "s.upper": 5,
        ]
        #expect(series(mqtt(.json, rule: JSONReadingRule())) == expected)
        #expect(series(mqtt(.auto, rule: JSONReadingRule())) == expected)
        #expect(series(try await exec(rule: JSONReadingRule())) == expected)
    }

    @Test("json_strings = decimal reads strict decimal strings in both, never hex or padded; an overflow names its text")
    func decimalStrings() async throws {
        let rule = JSONReadingRule(strings: .decimal)
        let viaMQTT = mqtt(.json, rule: rule), viaExec = try await exec(rule: rule)
        #expect(series(viaMQTT) == series(viaExec))
        #expect(series(viaExec)["s.str_num"] == 23.5)
        #expect(series(viaExec)["s.str_int"] == 42)
        #expect(series(viaExec)["s.hex_str"] == nil)
        #expect(series(viaExec)["s.space_num"] == nil)
        #expect(viaMQTT.problems.contains("m/dev1: big_str: `1e999` is beyond a double's range; skipped"))
        #expect(viaExec.problems.contains("s: big_str: `1e999` is beyond a double's range; skipped"))
    }

    @Test("two keys that make one field keep the later value and say so; json_keys = keep keeps them apart")
    func collidingKeys() throws {
        let document = try JSONValue.parse(#"{"Temp": 1, "temp": 2, "a": {"b": 3}, "a.b": 4}"#)
        let lowered = JSONReadingRule().values(of: document)
        #expect(lowered.readings.map(\.field) == ["temp", "a.b"])
        #expect(lowered.readings.map(\.value) == [2, 4])
        #expect(lowered.problems.map(\.field) == ["temp", "a.b"])
        #expect(lowered.problems.allSatisfy { $0.reason.contains("two keys of the document make this one field") })
        let kept = JSONReadingRule(keys: .keep).values(of: document)
        #expect(kept.readings.map(\.field) == ["Temp", "temp", "a.b"])
        #expect(kept.problems.count == 1, "`a.b` still collides")
    }

    @Test("json_keys = keep keeps the key's case in both")
    func keepKeys() async throws {
        let rule = JSONReadingRule(keys: .keep)
        #expect(series(mqtt(.json, rule: rule))["s.Upper"] == 5)
        #expect(series(try await exec(rule: rule))["s.Upper"] == 5)
    }

    @Test("a string named in fields is read in strict decimal syntax; hexadecimal never", arguments: [
        ("\"23.5\"", 23.5), ("\"-4\"", -4), ("\"1e3\"", 1000), ("\"0x10\"", nil), ("\" 7 \"", nil), ("\"+5\"", nil),
        ("\"07\"", nil), ("\"1.\"", nil), ("\".5\"", nil),
    ] as [(String, Double?)])
    func namedStrings(text: String, value: Double?) throws {
        let document = try JSONValue.parse(#"{"v": \#(text)}"#)
        let found = JSONReadingRule().values(of: document, fields: ["v"])
        #expect(found.readings.first?.value == value)
        #expect(found.missing == (value == nil ? ["v"] : []))
    }

    @Test("keys a device made become valid metric name parts, and long names stay distinct")
    func deviceMadeKeys() throws {
        let long = String(repeating: "k", count: 400)
        let document = try JSONValue.parse(#"{"temp\u0000x": 1, "a b/c+#": 2, "": 3, "température": 4, "\#(long)a": 5, "\#(long)b": 6, "ok\nline": 7}"#)
        var configuration = MQTTInputConfiguration(broker: "b", topics: ["#"], identity: SensorIdentity(name: "dev",
                                                                                                        unit: ""))
        configuration.format = .json
        var parser = MQTTPayloadParser(configuration: configuration)
        let readings = parser.readings(for: MQTTMessage(topic: "t/node\u{1}7", payload: Array(Self.text(document).utf8)),
                                       now: 1)
        let names = readings.samples.map(\.series.name)
        #expect(names.count == 7)
        #expect(Set(names).count == 7, "\(names)")
        let valid = try Regex("^[A-Za-z][A-Za-z0-9_./-]{0,254}$")
        for name in names { #expect(try valid.wholeMatch(in: name) != nil, "\(name.debugDescription)") }
        #expect(names.contains("dev.temp_x") && names.contains("dev.a_b_c__") && names.contains("dev._"))
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .object(let members):
            "{" + members.map { "\(jsonString($0.0)):\(text($0.1))" }.joined(separator: ",") + "}"
        case .number(let number): "\(number)"
        default: "null"
        }
    }

    static func jsonString(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [text])
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }
}

@Suite("MQTT payloads: stable sensor identities and the device's own time")
struct MQTTIdentityAndTimeTests {
    func tasmota() -> MQTTPayloadParser {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        let configuration = MQTTInputConfiguration.read(reader([
            ("name", .string("t")), ("broker", .string("b")), ("preset", .string("tasmota")),
            ("topics", .array([ConfigNode(value: .string("tele/+/SENSOR"), path: ConfigPath(), location: nil)])),
        ], diagnostics: diagnostics))
        #expect(diagnostics.errors.isEmpty, "\(diagnostics.errors)")
        return MQTTPayloadParser(configuration: configuration!)
    }

    func message(_ payload: String) -> MQTTMessage {
        MQTTMessage(topic: "tele/pool/SENSOR", payload: Array(payload.utf8))
    }

    static let now: Int64 = Timestamp.parse("2026-12-06T10:10:00Z")!

    @Test("Tasmota DS18B20 probes keep their series by 1-Wire address when their positions swap")
    func probesSwap() {
        var parser = tasmota()
        let before = parser.readings(for: message(#"""
            {"Time":"2026-12-06T10:00:00Z","DS18B20-1":{"Id":"01144A0CB2AA","Temperature":21.5},
             "DS18B20-2":{"Id":"0316A2794CFF","Temperature":9.0},"TempUnit":"C"}
            """#), now: Self.now)
        // The first probe drops out after a reboot: the second one is now `DS18B20-1`.
        let after = parser.readings(for: message(#"""
            {"Time":"2026-12-06T10:05:00Z","DS18B20-1":{"Id":"0316A2794CFF","Temperature":9.5},"TempUnit":"C"}
            """#), now: Self.now)
        #expect(before.value("t.ds18b20.temperature", ["sensor.id": "01144A0CB2AA", "device": "pool"]) == 21.5)
        #expect(before.value("t.ds18b20.temperature", ["sensor.id": "0316A2794CFF"]) == 9.0)
        #expect(after.value("t.ds18b20.temperature", ["sensor.id": "0316A2794CFF"]) == 9.5)
        #expect(after.samples.count == 1)
        #expect(after.samples[0].series == before.samples.first { $0.value == 9.0 }?.series, "one series per probe")
    }

    @Test("a payload's time field stamps its readings: a backlog delivered at reconnect keeps its own times")
    func deviceTime() {
        var parser = tasmota()
        let readings = parser.readings(for: message(#"""
            {"Time":"2026-12-06T10:00:00+01:00","SI7021":{"Temperature":20.1,"Humidity":55}}
            """#), now: Self.now)
        let stamp = Timestamp.parse("2026-12-06T09:00:00Z")
        #expect(readings.samples.count == 2)
        #expect(readings.samples.allSatisfy { $0.time == stamp })
        #expect(readings.problems.isEmpty)
    }

    @Test("a device time without a zone, or far from the gateway's clock, stamps on arrival and says why",
          arguments: [
              (#"{"Time":"2026-12-06T10:00:00","SI7021":{"Temperature":20}}"#, "names no time zone"),
              (#"{"Time":"2020-01-01T00:00:00Z","SI7021":{"Temperature":20}}"#, "more than a week before"),
          ])
    func untrustedDeviceTime(payload: String, reason: String) {
        var parser = tasmota()
        let readings = parser.readings(for: message(payload), now: Self.now)
        #expect(readings.samples.first?.time == Self.now)
        #expect(readings.problems.contains { $0.contains(reason) && $0.contains("stamped on arrival") },
                "\(readings.problems)")
    }

    @Test("Zigbee2MQTT's epoch last_seen stamps the readings and is no reading itself")
    func lastSeen() {
        var configuration = MQTTInputConfiguration(broker: "b", topics: ["z/+"], identity: SensorIdentity(name: "z",
                                                                                                          unit: ""))
        configuration.preset = "zigbee2mqtt"
        configuration.format = .json
        configuration.timeField = "last_seen"
        var parser = MQTTPayloadParser(configuration: configuration)
        let seen = Self.now / 1_000_000 - 60_000
        let readings = parser.readings(for: MQTTMessage(topic: "z/kitchen", payload: Array(
            #"{"temperature":21,"last_seen":\#(seen)}"#.utf8)), now: Self.now)
        #expect(readings.samples.map(\.series.name) == ["z.temperature"])
        #expect(readings.samples.first?.time == seen * 1_000_000)
    }
}
