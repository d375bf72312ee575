import OutpostCore
import OutpostSpool
import OutpostTestSupport
import Testing
@testable import OutpostRuntime

@Suite("The runtime tells the spool what each uplink accepts")
struct UplinkRoutingTests {
    /// A configuration with one input, an MQTT broker that is never contacted, and `rest`.
    func configuration(_ rest: String) throws -> OutpostConfiguration {
        try OutpostConfiguration.parse("""
            [gateway]
            state_dir = "\(try temporaryStateDirectory())"
            [mqtt.brokers.cloud]
            url = "mqtt://127.0.0.1:1"
            [[input.simulated]]
            name = "tank.level"
            \(rest)
            """, file: "outpost.toml", environment: [:])
    }

    func destinations(_ configuration: OutpostConfiguration) throws -> [SpoolDestination] {
        Runtime.spoolDestinations(try Runtime(configuration: configuration).allUplinks())
    }

    @Test("uplinks named `alerts.backup` (OTLP/HTTP) and `alerts.mqtt` (MQTT) take metrics and events")
    func namesDoNotRoute() throws {
        let found = try destinations(configuration("""
            [[uplink.otlp_http]]
            name = "alerts.backup"
            endpoint = "http://127.0.0.1:1"
            [[uplink.mqtt]]
            name = "alerts.mqtt"
            broker = "cloud"
            """))
        #expect(found == [SpoolDestination(uplink: "alerts.backup", accepts: [.metrics, .logs]),
                          SpoolDestination(uplink: "alerts.mqtt", accepts: [.metrics, .logs])])
    }

    @Test("with [alerts] mqtt_broker, the publisher takes alert documents only, and `alerts.backup` the metrics")
    func publisherBesideAlertsBackup() throws {
        let found = try destinations(configuration("""
            [alerts]
            mqtt_broker = "cloud"
            [[uplink.otlp_http]]
            name = "alerts.backup"
            endpoint = "http://127.0.0.1:1"
            """))
        #expect(found == [SpoolDestination(uplink: "alerts.backup", accepts: [.metrics, .logs]),
                          SpoolDestination(uplink: "alerts.mqtt", accepts: [.alert])])
        let spool = try SQLiteSpool(path: try temporaryStateDirectory() + "/spool.db", maxBytes: 1 << 20,
                                    destinations: found)
        let json = Array("{}".utf8)
        try spool.enqueue(Batch(id: "doc", lane: .alerts, signal: .alert, format: .alertJSON,
                                contentEncoding: .identity, created: 0, items: 1, uncompressedBytes: 2, payload: json,
                                routing: "a/b"))
        try spool.enqueue(storeBatch(.metrics))
        #expect(try spool.next(for: "alerts.mqtt", now: 0)?.batch.signal == .alert)
        #expect(try spool.next(for: "alerts.backup", now: 0)?.batch.signal == .metrics)
    }

    @Test("an uplink named like the alert publisher is a config error at its `name`, not a crash at start")
    func publisherNameTaken() throws {
        let error = try #require(throws: ConfigErrors.self) {
            try configuration("""
                [alerts]
                mqtt_broker = "cloud"
                [[uplink.mqtt]]
                name = "alerts.mqtt"
                broker = "cloud"
                """)
        }
        let only = try #require(error.errors.first)
        #expect(error.errors.count == 1)
        #expect(only.path?.description == "uplink.mqtt[#1].name")
        #expect(only.message.contains("MQTT alert publisher"), "\(only)")
    }
}
