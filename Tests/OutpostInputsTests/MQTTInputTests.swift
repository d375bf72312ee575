import OutpostCore
import OutpostMQTT
import Testing
@testable import OutpostInputs

@Suite("MQTT payloads to readings")
struct MQTTPayloadTests {
    func parser(_ preset: String = "", format: MQTTInputConfiguration.Format = .auto, fields: [String] = [],
                maxPayload: Int = 64 * 1024) -> MQTTPayloadParser {
        var configuration = MQTTInputConfiguration(broker: "local", topics: ["#"],
                                                   identity: SensorIdentity(name: "zigbee", unit: ""))
        configuration.preset = preset
        configuration.format = preset.isEmpty ? format : .json
        configuration.fields = fields
        configuration.deviceLevel = preset == "tasmota" ? 2 : nil
        configuration.units = MQTTInputConfiguration.defaultUnits
        configuration.maxPayload = maxPayload
        return MQTTPayloadParser(configuration: configuration)
    }

    func message(_ topic: String, _ payload: String) -> MQTTMessage {
        MQTTMessage(topic: topic, payload: Array(payload.utf8))
    }

    @Test("Zigbee2MQTT: one series per device and field, with the usual units; bridge topics ignored")
    func zigbee2mqtt() {
        var parser = parser("zigbee2mqtt")
        let readings = parser.readings(for: message("zigbee2mqtt/kitchen", """
            {"temperature":21.5,"humidity":40.2,"pressure":1013.2,"battery":87,"linkquality":120,
             "update":{"state":"idle"},"contact":true}
            """), now: 1)
        #expect(readings.value("zigbee.temperature", ["device": "kitchen"]) == 21.5)
        #expect(readings.value("zigbee.battery") == 87)
        #expect(readings.value("zigbee.contact") == 1)
        #expect(readings.samples.first { $0.series.name == "zigbee.pressure" }?.series.unit == "hPa")
        #expect(readings.samples.first { $0.series.name == "zigbee.temperature" }?.series.unit == "Cel")
        #expect(parser.readings(for: message("zigbee2mqtt/bridge/state", "online"), now: 1).isEmpty)
    }

    @Test("Tasmota: nested sensor objects flattened, the device from the second topic level")
    func tasmota() {
        var parser = parser("tasmota")
        let readings = parser.readings(for: message("tele/greenhouse-plug/SENSOR", """
            {"Time":"2026-03-01T12:00:00","BME280":{"Temperature":22.1,"Humidity":55.0,"Pressure":1009.8},
             "ENERGY":{"Power":12,"Voltage":231},"TempUnit":"C"}
            """), now: 1)
        #expect(readings.value("zigbee.bme280.temperature", ["device": "greenhouse-plug"]) == 22.1)
        #expect(readings.value("zigbee.energy.power") == 12)
        #expect(readings.samples.first { $0.series.name == "zigbee.bme280.humidity" }?.series.unit == "%")
    }

    @Test("plain numbers, quoted or not; fields filter JSON")
    func plainAndFiltered() {
        var plain = parser()
        #expect(plain.readings(for: message("home/attic/temp", " 18.25 "), now: 1).value("zigbee") == 18.25)
        #expect(plain.readings(for: message("home/attic/temp", "\"19\""), now: 1).value("zigbee") == 19)
        var filtered = parser(format: .json, fields: ["temperature"])
        let readings = filtered.readings(for: message("s/1", #"{"temperature":5,"humidity":6}"#), now: 1)
        #expect(readings.samples.map(\.series.name) == ["zigbee.temperature"])
    }

    @Test("malformed, wrong-typed and oversized messages become problems, not crashes", arguments: [
        ("{\"temperature\":", "invalid JSON"), ("warm", "not a number"), ("{\"state\":\"on\"}", "no numeric field"),
        ("[1,2,3]", "not a number"), (String(repeating: "9", count: 5000), "exceeds max_payload"),
    ])
    func problems(payload: String, reason: String) {
        var parser = parser(maxPayload: 4096)
        let readings = parser.readings(for: message("x/y", payload), now: 1)
        #expect(readings.samples.isEmpty)
        #expect(readings.problems.first?.contains(reason) == true, "\(readings.problems)")
    }

    @Test("random bytes, huge messages and deep JSON never crash the parser")
    func fuzz() {
        var generator = SeededGenerator(seed: 5)
        var parser = parser()
        let pieces = ["{", "}", "[", "]", "\"a\":", "1", ",", "-", "e", "true", "\"", "\\", "null", " "]
        for round in 0..<3000 {
            var text = ""
            for _ in 0..<Int(generator.next() % 40) { text += pieces[Int(generator.next() % UInt64(pieces.count))] }
            if round % 100 == 0 { text = String(repeating: "{\"a\":", count: 5000) }
            if round % 333 == 0 { text = String(repeating: "x", count: 200_000) }
            let bytes = round % 7 == 0 ? (0..<64).map { _ in UInt8(truncatingIfNeeded: generator.next()) } : Array(text.utf8)
            _ = parser.readings(for: MQTTMessage(topic: "fuzz/\(round % 3)", payload: bytes), now: Int64(round))
        }
    }
}
