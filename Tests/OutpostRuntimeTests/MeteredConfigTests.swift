import OutpostBatch
import OutpostCore
import OutpostSpool
import OutpostUplinks
import OutpostWire
import Testing
@testable import OutpostRuntime

@Suite("Config of metered links, report-on-change and zstd")
struct MeteredConfigTests {
    let input = """
        [[input.simulated]]
        name = "greenhouse.air.temperature"
        unit = "Cel"

        """

    func parse(_ toml: String) throws -> OutpostConfiguration {
        try OutpostConfiguration.parse(input + toml, file: "outpost.toml", environment: [:], sampleClock: nil)
    }

    func errors(_ toml: String) -> [ConfigError] {
        do {
            _ = try parse(toml)
            return []
        } catch let errors as ConfigErrors {
            return errors.errors
        } catch {
            Issue.record("unexpected \(error)")
            return []
        }
    }

    @Test("the README's budget and night window: read as written")
    func readmeExample() throws {
        let configuration = try parse("""
            [batch]
            max_age = "15m"
            [[uplink.otlp_http]]
            name = "lte"
            endpoint = "https://otel.example.com:4318"
            monthly_bytes = "100MB"
            billing_day = 15
            sync_windows = ["01:00-05:00"]
            """)
        let holding = configuration.uplinks[0].settings.delivery.holding
        #expect(holding.budget == ByteBudget(monthly: 100_000_000, billingDay: 15))
        #expect(holding.windows.windows == [SyncWindows.Window(start: 3600, end: 18_000)])
        #expect(holding.metered == .always && holding.drainOrder == .oldestFirst)
        #expect(Runtime.spoolPolicy(configuration.uplinks).holds["lte"] == holding)
    }

    @Test("every metered key, on an MQTT uplink too")
    func everyKey() throws {
        let configuration = try parse("""
            [mqtt.brokers.cloud]
            url = "mqtt://127.0.0.1:1883"
            [[uplink.mqtt]]
            broker = "cloud"
            daily_bytes = "2MB"
            alert_reserve = "100KB"
            event_reserve = "10%"
            sync_windows = ["22:00-06:00", "12:00-12:30"]
            events_outside_windows = true
            drain_order = "newest"
            metered = "auto"
            aggregate = "5m"
            """)
        let delivery = configuration.uplinks[0].settings.delivery
        #expect(delivery.holding.budget.daily == 2_000_000 && delivery.holding.budget.monthly == nil)
        #expect(delivery.holding.budget.alertReserve == .bytes(100_000))
        #expect(delivery.holding.budget.eventReserve == .percent(10))
        #expect(delivery.holding.windows.windows.count == 2 && delivery.holding.eventsOutsideWindows)
        #expect(delivery.holding.drainOrder == .newestFirst)
        #expect(delivery.holding.metered == .auto(interfaces: ["wwan*", "ppp*", "usb*"]))
        #expect(delivery.aggregate == .seconds(300))
    }

    @Test("mistakes are errors at their line, saying what to write", arguments: [
        ("sync_windows = [\"1am-5am\"]", "sync_windows", "HH:MM-HH:MM"),
        ("sync_windows = [\"05:00-05:00\"]", "sync_windows", "00:00-24:00"),
        ("monthly_bytes = \"1KB\"", "monthly_bytes", "at least 4KiB"),
        ("daily_bytes = \"1MB\"\nalert_reserve = \"50%\"\nevent_reserve = \"50%\"", "alert_reserve", "nothing"),
        ("billing_day = 32", "billing_day", "1"),
        ("drain_order = \"random\"", "drain_order", "oldest"),
        ("metered = \"sometimes\"", "metered", "auto"),
        ("aggregate = \"7m\"", "aggregate", "divide a day"),
        ("event_reserve = \"60%\"", "event_reserve", "50%"),
    ])
    func mistakes(keys: String, key: String, hint: String) throws {
        let found = errors("""
            [[uplink.otlp_http]]
            endpoint = "http://127.0.0.1:4318"
            \(keys)
            """)
        let error = try #require(found.first)
        #expect(found.count == 1, "\(found)")
        #expect(error.path?.description.hasSuffix(key) == true, "\(error)")
        #expect(error.location?.line ?? 0 >= 6, "\(error)")
        #expect(error.description.contains(hint), "\(error)")
    }

    @Test("[report], an input's report table and [[report.override]]: the override wins, then the input, then [report]")
    func reportRules() throws {
        let configuration = try OutpostConfiguration.parse("""
            [report]
            max_silence = "30m"
            on_change = false
            [[report.override]]
            series = "greenhouse.soil.*"
            deadband = 0.2
            [[input.simulated]]
            name = "greenhouse.air.temperature"
            unit = "Cel"
            report = { deadband = 0.1 }
            [[input.simulated]]
            name = "greenhouse.soil.temperature"
            unit = "Cel"
            [[input.simulated]]
            name = "tank.level"
            unit = "%"
            """, file: "outpost.toml", environment: [:], sampleClock: nil)
        let report = configuration.report
        let patches = configuration.inputs.map(\.report)
        #expect(report.mayApply(inputPatches: patches))
        let air = Series(name: "greenhouse.air.temperature", unit: "Cel")
        let soil = Series(name: "greenhouse.soil.temperature", unit: "Cel")
        let tank = Series(name: "tank.level", unit: "%")
        #expect(report.rule(for: air, inputPatch: patches[0])
            == ChangeRule(deadband: .absolute(0.1), maxSilence: .seconds(1800)))
        #expect(report.rule(for: soil, inputPatch: patches[1])
            == ChangeRule(deadband: .absolute(0.2), maxSilence: .seconds(1800)))
        #expect(report.rule(for: tank, inputPatch: patches[2]) == nil, "on_change stays off for the rest")
        #expect(errors("[report]\ndeadband = \"lots\"").first?.description.contains("2%") == true)
        #expect(errors("[[report.override]]\ndeadband = 1").first?.description.contains("series") == true)
    }

    @Test("[batch] compression = \"zstd\": batches are zstd at zstd_level; an OTLP/HTTP uplink sends them as they are")
    func zstdBatches() throws {
        let configuration = try parse("""
            [batch]
            compression = "zstd"
            zstd_level = 19
            [[uplink.otlp_http]]
            name = "zstd"
            endpoint = "http://127.0.0.1:4318"
            [[uplink.otlp_http]]
            name = "vendor"
            endpoint = "http://127.0.0.1:4319"
            compression = "gzip"
            """)
        #expect(configuration.batch.format.compression == .zstd(level: 19))
        let compressions = configuration.uplinks.map { ($0.settings as? OTLPHTTPUplinkConfiguration)?.compression }
        #expect(compressions == [.zstd(level: 19), .gzip(level: 6)])
    }
}
