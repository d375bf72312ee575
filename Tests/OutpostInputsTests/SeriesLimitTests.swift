import OutpostCore
import OutpostMQTT
import Testing
@testable import OutpostInputs

@Suite("Series made from payloads are capped and forgotten when idle")
struct SeriesLimitTests {
    func zigbee(maxSeries: Int = SeriesTable.defaultLimit, idle: Duration = SeriesTable.defaultIdle)
        -> MQTTPayloadParser
    {
        var configuration = MQTTInputConfiguration(broker: "b", topics: ["zigbee2mqtt/#"],
                                                   identity: SensorIdentity(name: "zigbee", unit: ""))
        configuration.preset = "zigbee2mqtt"
        configuration.format = .json
        configuration.units = MQTTInputConfiguration.defaultUnits
        configuration.seriesTable = SeriesTable(limit: maxSeries, idleAfter: idle)
        return MQTTPayloadParser(configuration: configuration)
    }

    func message(_ topic: String, _ payload: String) -> MQTTMessage {
        MQTTMessage(topic: topic, payload: Array(payload.utf8))
    }

    @Test("Zigbee2MQTT friendly names with `/` keep one series per device")
    func groupedFriendlyNames() {
        var parser = zigbee()
        let kitchen = parser.readings(for: message("zigbee2mqtt/kitchen/sensor1", #"{"temperature":21.0}"#), now: 1)
        let garage = parser.readings(for: message("zigbee2mqtt/garage/sensor1", #"{"temperature":4.0}"#), now: 1)
        #expect(kitchen.value("zigbee.temperature", ["device": "kitchen/sensor1"]) == 21.0)
        #expect(garage.value("zigbee.temperature", ["device": "garage/sensor1"]) == 4.0)
        #expect(kitchen.samples.first?.series != garage.samples.first?.series)
        for suffix in ["availability", "set", "get"] {
            #expect(parser.readings(for: message("zigbee2mqtt/kitchen/sensor1/\(suffix)", "{}"), now: 1).isEmpty)
        }
    }

    @Test("a device name longer than 256 bytes is a problem, not a series")
    func longDeviceName() {
        var parser = zigbee()
        let readings = parser.readings(for: message("zigbee2mqtt/" + String(repeating: "d", count: 300),
                                                    #"{"temperature":20}"#), now: 1)
        #expect(readings.samples.isEmpty)
        #expect(readings.problems.first?.contains("device name longer than 256 bytes") == true)
    }

    @Test("a flood of new device names stops at max_series; refusals are counted and reported")
    func flood() {
        var parser = zigbee(maxSeries: 10)
        var refusals: [String] = []
        for device in 0..<1000 {
            let readings = parser.readings(for: message("zigbee2mqtt/dev-\(device)",
                                                        #"{"temperature":20,"humidity":40}"#), now: 1)
            refusals += readings.problems
        }
        #expect(parser.refusedSeries == 1990)
        #expect(refusals.count == 995, "one problem per message, however many of its fields were refused")
        #expect(refusals.last?.contains("`dev-999.temperature` and 1 more refused (1990 refused since start)") == true)
        #expect(refusals.last?.contains("max_series 10 reached") == true)
        let known = parser.readings(for: message("zigbee2mqtt/dev-0", #"{"temperature":21}"#), now: 2)
        #expect(known.value("zigbee.temperature", ["device": "dev-0"]) == 21, "known series keep working")
    }

    @Test("a series idle longer than series_idle gives its place to a new one")
    func idleForgotten() throws {
        let minute: Int64 = 60_000_000_000
        var parser = zigbee(maxSeries: 1, idle: .seconds(600))
        let first = parser.readings(for: message("zigbee2mqtt/old", #"{"temperature":1}"#), now: 0)
        #expect(first.samples.count == 1)
        #expect(parser.readings(for: message("zigbee2mqtt/new", #"{"temperature":1}"#), now: 5 * minute)
            .samples.isEmpty, "the old one is not idle yet")
        let old = try #require(first.samples.first).series
        let readings = parser.readings(for: message("zigbee2mqtt/new", #"{"temperature":1}"#), now: 11 * minute)
        #expect(readings.samples.count == 1)
        #expect(readings.forgotten == [old], "detection is told to forget the idle series too")
        #expect(parser.refusedSeries == 1)
    }

    @Test("exec keys are capped the same way")
    func execKeys() async throws {
        var configuration = ExecInputConfiguration(
            command: ["/bin/sh", "-c", "for i in $(seq 1 50); do echo k$i=$i; done"],
            identity: SensorIdentity(name: "many", unit: ""), extraction: try NumberExtraction())
        configuration.format = .keyValue
        configuration.seriesTable = SeriesTable(limit: 5)
        var exec = ExecReader(configuration: configuration)
        let readings = await exec.read(now: 1)
        #expect(readings.samples.count == 5)
        #expect(readings.problems.count == 1)
        #expect(readings.problems.first?.contains("`k6` and 44 more refused") == true)
    }

    @Test("max_series and series_idle are read and range-checked")
    func configuration() throws {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        let table = SeriesTable.read(reader([("max_series", .int(0)), ("series_idle", .string("2h"))],
                                            diagnostics: diagnostics))
        #expect(table.limit == SeriesTable.defaultLimit)
        #expect(table.idleAfter == 7_200_000_000_000)
        #expect(diagnostics.errors.first?.message.contains("must be 1 to 100000") == true)
    }
}
