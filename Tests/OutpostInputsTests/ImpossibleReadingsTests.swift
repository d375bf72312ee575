import OutpostCore
import OutpostMQTT
import Testing
@testable import OutpostInputs

/// Values that cannot be true never become samples: NaN, ±Inf, numbers that overflow, values outside what the unit
/// allows physically or what the sensor can report. Each is a problem (and, for polled sensors, a rate-limited
/// `outpost.sensor.fault`).
@Suite("Impossible readings are faults, not samples")
struct ImpossibleReadingsTests {
    func node(_ value: ConfigValue) -> ConfigNode { ConfigNode(value: value, path: ConfigPath(), location: nil) }

    func table(_ entries: [String: String]) -> ConfigValue {
        .table(ConfigTable(entries: entries.sorted { $0.key < $1.key }.map { (key: $0.key, node: node(.string($0.value))) }))
    }

    func execReader(_ entries: [(String, ConfigValue)]) throws -> ExecReader {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        let configuration = ExecInputConfiguration.read(reader(entries, diagnostics: diagnostics))
        #expect(diagnostics.errors.isEmpty, "\(diagnostics.errors)")
        return ExecReader(configuration: try #require(configuration))
    }

    func cat(_ path: String) -> ConfigValue { .array([node(.string("cat")), node(.string(fixture(path)))]) }

    @Test("exec JSON: \"NaN\", 1e999, \"inf\", 140 % and -300 °C are skipped problems with one fault each")
    func execJSON() async throws {
        var exec = try execReader([("name", .string("probe")), ("format", .string("json")),
                                   ("command", cat("exec/probe-output.json")),
                                   ("units", table(["rh": "%", "cold": "Cel"]))])
        let readings = await exec.read(now: 1)
        #expect(readings.samples.map(\.series.name) == ["probe.ok"])
        #expect(readings.samples.allSatisfy { $0.value.isFinite })
        #expect(readings.problems.count == 5, "\(readings.problems)")
        #expect(readings.problems.contains("probe: temperature: `NaN` is not a number; skipped"))
        #expect(readings.problems.contains("probe: humidity: `1e999` is beyond a double's range; skipped"),
                "the text received, not `inf`")
        #expect(readings.problems.contains { $0.contains("rh: 140 % is outside 0…100 %") })
        #expect(readings.problems.contains { $0.contains("cold: -300 Cel is below -273.15 Cel") })
        #expect(readings.events.count == 5)
        #expect(readings.events.allSatisfy { $0.name == .sensorFault })
        let again = await exec.read(now: 2)
        #expect(again.events.isEmpty, "one fault per field and run of identical failures")
        #expect(again.problems.count == 5, "each skipped value is still counted")
    }

    @Test("exec key=value: `temp=nan` is skipped, `hum=40` sampled")
    func execKeyValue() async throws {
        var exec = try execReader([("name", .string("kv")), ("format", .string("key_value")),
                                   ("command", cat("exec/probe-output.kv"))])
        let readings = await exec.read(now: 1)
        #expect(readings.samples.map(\.series.name) == ["kv.hum"])
        #expect(readings.problems.contains("kv: temp: `nan` is not a number; skipped"))
        #expect(readings.problems.contains("kv: load: `-inf` is not a number; skipped"))
    }

    @Test("a regex that captures `nan` from a file is a sensor fault, not a sample")
    func fileRegex() throws {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        let configuration = FileInputConfiguration.read(reader([
            ("name", .string("bus.voltage")), ("path", .string(fixture("exec/sensor-reading.txt"))),
            ("regex", .string("v=(\\S+)")),
        ], diagnostics: diagnostics), context: context())
        var file = FileReader(configuration: try #require(configuration))
        let readings = file.read(now: 1)
        #expect(readings.samples.isEmpty)
        #expect(readings.events.first?.attributes["outpost.fault"] == .string("`nan` is not a number"))
    }

    @Test("MQTT: non-finite, overflowing and impossible values are problems; the rest are sampled")
    func mqtt() {
        var configuration = MQTTInputConfiguration(broker: "b", topics: ["#"], identity: SensorIdentity(name: "z", unit: ""))
        configuration.preset = "zigbee2mqtt"
        configuration.format = .json
        configuration.units = MQTTInputConfiguration.defaultUnits
        var parser = MQTTPayloadParser(configuration: configuration)
        let payload = #"{"temperature": -280, "humidity": 101, "pressure": 1e999, "battery": 90}"#
        let readings = parser.readings(for: MQTTMessage(topic: "zigbee2mqtt/a", payload: Array(payload.utf8)), now: 1)
        #expect(readings.samples.map(\.series.name) == ["z.battery"])
        #expect(readings.problems.count == 3, "\(readings.problems)")
        var numbers = MQTTPayloadParser(configuration: MQTTInputConfiguration(
            broker: "b", topics: ["#"], identity: SensorIdentity(name: "n", unit: "")))
        let plain = numbers.readings(for: MQTTMessage(topic: "sensors/x", payload: Array("inf".utf8)), now: 1)
        #expect(plain.samples.isEmpty)
        #expect(plain.problems.first?.contains("`inf` is not a number") == true)
    }

    @Test("units without a physical bound accept anything finite; bounded units check both ends", arguments: [
        (-40.0, "dBm", true), (0.0, "%", true), (100.0, "%", true), (100.5, "%", false), (-0.1, "%", false),
        (-273.15, "Cel", true), (-273.2, "Cel", false), (-1.0, "K", false), (-5.0, "hPa", false),
        (Double.nan, "", false), (-Double.infinity, "W", false), (1e300, "", true),
    ])
    func units(value: Double, unit: String, plausible: Bool) {
        #expect((Plausibility.problem(with: value, unit: unit) == nil) == plausible)
    }
}

@Suite("DS18B20 reads that are not temperatures")
struct DS18B20FaultTests {
    @Test("an all-zero scratchpad with CRC YES is a fault naming the cause, not 0 °C")
    func allZero() throws {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        let configuration = FileInputConfiguration.read(reader([
            ("preset", .string("ds18b20")), ("name", .string("tank.temperature")),
            ("path", .string(fixture("w1/28-all-zero"))),
        ], diagnostics: diagnostics), context: context())
        var file = FileReader(configuration: try #require(configuration))
        let readings = file.read(now: 1)
        #expect(readings.samples.isEmpty)
        #expect(readings.events.first?.name == .sensorFault)
        #expect(readings.events.first?.attributes["outpost.fault"]
            == .string("all-zero scratchpad: the sensor did not answer"))
        #expect(file.read(now: 2).events.isEmpty, "reported once per run")
    }

    @Test("a garbled configuration byte, a value outside -55…125 °C, -127 and 85 are faults", arguments: [
        ("w1/28-garbled-config", "configuration byte"), ("w1/28-out-of-range", "outside the DS18B20's range"),
        ("w1/28-failed-read", "did not answer"),
    ])
    func otherFaults(path: String, reason: String) throws {
        let text = try SystemFiles.read(fixture(path + "/w1_slave"))
        guard case .fault(let found) = DS18B20.parse(text) else {
            Issue.record("\(path) read as a temperature")
            return
        }
        #expect(found.contains(reason))
    }
}
