import OutpostCore
@testable import OutpostRuntime
import Testing

@Suite("Reload: the plan says what restarts")
struct ReloadPlanTests {
    func parse(_ text: String) throws -> OutpostConfiguration {
        try OutpostConfiguration.parse("[gateway]\nid = \"g\"\nstate_dir = \"/tmp/outpost-plan\"\n" + text,
                                       file: "/tmp/plan.toml", environment: [:], sampleClock: nil)
    }

    let base = """
        [[input.simulated]]
        name = "a"
        interval = "1s"
        [[input.simulated]]
        name = "b"
        [[uplink.otlp_http]]
        name = "collector"
        endpoint = "http://127.0.0.1:4318"

        """

    @Test("the same file: nothing to do")
    func unchanged() throws {
        #expect(ReloadPlan(from: try parse(base), to: try parse(base)).isEmpty)
    }

    @Test("a new input, a changed one and a removed one are started, restarted and stopped, nothing else")
    func inputs() throws {
        let next = base.replacing("name = \"b\"", with: "name = \"c\"").replacing("interval = \"1s\"", with: "interval = \"2s\"")
        let plan = ReloadPlan(from: try parse(base), to: try parse(next))
        #expect(plan.addedInputs == ["simulated c"])
        #expect(plan.removedInputs == ["simulated b"])
        #expect(plan.changedInputs == ["simulated a"])
        #expect(plan.changedUplinks.isEmpty && !plan.restartsPipeline)
        #expect(plan.detectionChanged, "input a's interval, which staleness counts in, changed")
    }

    @Test("a changed endpoint restarts that uplink only; a new uplink restarts the pipeline (the spool keeps batches per uplink)")
    func uplinks() throws {
        let moved = ReloadPlan(from: try parse(base), to: try parse(base.replacing("4318", with: "4319")))
        #expect(moved.changedUplinks == ["collector"] && !moved.restartsPipeline)
        #expect(moved.addedInputs.isEmpty && moved.changedInputs.isEmpty && !moved.detectionChanged)
        let added = ReloadPlan(from: try parse(base), to: try parse(base + """
            [[uplink.otlp_http]]
            name = "backup"
            endpoint = "http://127.0.0.1:4320"
            """))
        #expect(added.pipelineRestart == ["the set of uplinks"])
    }

    @Test("a reload that would move the spool or the status file is refused, saying how to move them")
    func moves() throws {
        let old = try parse(base)
        let moved = try parse(base + "[spool]\npath = \"/tmp/elsewhere/spool.db\"\n")
        let reason = try #require(ReloadPlan.refusal(from: old, to: moved))
        #expect(reason.contains("moves the spool from \(old.spool.path) to /tmp/elsewhere/spool.db"))
        #expect(reason.contains("stop Outpost, move the spool file"))
        let status = try parse(base + "[status]\npath = \"/tmp/elsewhere/status.json\"\n")
        #expect(try #require(ReloadPlan.refusal(from: old, to: status)).contains("moves the status file"))
        #expect(ReloadPlan.refusal(from: old, to: try parse(base + "[batch]\nmax_age = \"5s\"\n")) == nil)
    }

    @Test("a budget, a sync window or report-on-change, which the spool and the batcher read once, restart the pipeline")
    func holding() throws {
        let budget = ReloadPlan(from: try parse(base),
                                to: try parse(base.replacing("4318\"", with: "4318\"\ndaily_bytes = \"1MiB\"")))
        #expect(budget.pipelineRestart == ["an uplink's budgets, sync windows, metered or aggregate"])
        let report = ReloadPlan(from: try parse(base), to: try parse(base + "[report]\non_change = true\n"))
        #expect(report.pipelineRestart == ["[report] or an input's report table"])
    }

    @Test("[detect] changes reconfigure detection; [batch] and [spool] restart the pipeline and say why")
    func sections() throws {
        let detect = ReloadPlan(from: try parse(base), to: try parse(base + "[detect]\nsigma = 4.0\n"))
        #expect(detect.detectionChanged && !detect.restartsPipeline && detect.changedInputs.isEmpty)
        let core = ReloadPlan(from: try parse(base), to: try parse(base + "[batch]\nmax_age = \"5s\"\n[spool]\nmax_size = \"1MiB\"\n"))
        #expect(core.pipelineRestart == ["[spool]", "[batch]"])
        #expect(core.summary.hasPrefix("pipeline restarted ([spool], [batch])"))
    }

    @Test("a broker's settings restart the MQTT input that reads from it, not the others")
    func brokers() throws {
        let mqtt = base + """
            [mqtt.brokers.local]
            url = "mqtt://127.0.0.1:1883"
            [[input.mqtt]]
            name = "zigbee"
            broker = "local"
            topics = ["z/+"]

            """
        let plan = ReloadPlan(from: try parse(mqtt), to: try parse(mqtt.replacing("1883", with: "1884")))
        #expect(plan.changedBrokers == ["local"])
        #expect(plan.changedInputs == ["mqtt zigbee"])
        #expect(!plan.restartsPipeline)
    }

    @Test("settings fingerprints ignore dictionary order and see nested values")
    func fingerprints() {
        #expect(SettingsFingerprint.of(["a": 1, "b": 2, "c": 3]) == SettingsFingerprint.of(["c": 3, "a": 1, "b": 2]))
        #expect(SettingsFingerprint.of([Duration.seconds(1)]) != SettingsFingerprint.of([Duration.seconds(2)]))
    }
}
