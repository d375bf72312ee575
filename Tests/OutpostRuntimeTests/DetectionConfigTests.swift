import OutpostCore
import OutpostDetect
import OutpostRuntime
import Testing

@Suite("[detect] sensitivity and the expert keys")
struct DetectionConfigTests {
    let input = """
        [[input.simulated]]
        name = "greenhouse.temperature"

        """

    func sigma(_ toml: String, series name: String = "greenhouse.temperature") throws -> AnomalyConfiguration {
        let configuration = try OutpostConfiguration.parse(input + toml, file: "outpost.toml", environment: [:])
        return configuration.detection.settings(for: Series(name: name, unit: "Cel"), sensorPatch: nil).anomaly
    }

    @Test("sensitivity sets sigma, confirm_samples and likelihood_threshold together")
    func presets() throws {
        #expect(try sigma("[detect]\nsensitivity = \"low\"\n").likelihoodThreshold == 1e-7)
        #expect(try sigma("[detect]\nsensitivity = \"high\"\n").likelihoodThreshold == 1e-5)
        #expect(try sigma("").likelihoodThreshold == 1e-6)
        #expect(try sigma("[detect]\nsensitivity = \"low\"\n").sigma == 4)
        #expect(try sigma("[detect]\nsensitivity = \"low\"\n").confirmSamples == 4)
        #expect(try sigma("[detect]\nsensitivity = \"high\"\n").sigma == 2.5)
        #expect(try sigma("[detect]\nsensitivity = \"high\"\n").confirmSamples == 2)
        #expect(try sigma("").sigma == 3)
        #expect(try sigma("").confirmSamples == 3)
    }

    @Test("an expert key in the same table wins over the preset; an override's sensitivity wins over [detect]")
    func expertKeysWin() throws {
        let same = try sigma("[detect]\nsensitivity = \"low\"\nsigma = 3.5\n")
        #expect(same.sigma == 3.5)
        #expect(same.confirmSamples == 4)
        let overridden = try sigma("""
            [detect]
            sigma = 3.5
            [[detect.override]]
            series = "greenhouse.*"
            sensitivity = "high"
            """)
        #expect(overridden.sigma == 2.5)
    }

    @Test("the new keys are read and checked")
    func newKeys() throws {
        let read = try sigma("""
            [detect]
            confirm_samples = 5
            range_horizon = "1d"
            quiet_samples = 4
            max_episodes_per_hour = 0
            stuck_samples = 0
            """)
        #expect(read.confirmSamples == 5)
        #expect(read.rangeHorizon == .seconds(86400))
        #expect(read.quietSamples == 4)
        #expect(read.maxEpisodesPerHour == 0)
        #expect(read.stuckSamples == 0)
        #expect(throws: (any Error).self) { try sigma("[detect]\nsensitivity = \"extreme\"\n") }
        #expect(throws: (any Error).self) { try sigma("[detect]\nconfirm_samples = 0\n") }
    }

    @Test("the rule and profile keys are read, and a rule that does not exist is named with where it was written")
    func ruleKeys() throws {
        let read = try sigma("""
            [detect]
            rules = ["record", "stuck"]
            likelihood_threshold = 1e-4
            recent_samples = 20
            seasonality = "daily"
            seasonal_learning = "3d"
            drift_sigma = 6
            drift_after = "1d"
            max_episodes_per_day = 3
            recurrence_tolerance = 0
            """)
        #expect(read.rules == ["record", "stuck"])
        #expect(read.likelihoodThreshold == 1e-4)
        #expect(read.recentSamples == 20)
        #expect(read.seasonality == .daily)
        #expect(read.seasonalLearning == .seconds(3 * 86400))
        #expect(read.driftSigma == 6)
        #expect(read.driftAfter == .seconds(86400))
        #expect(read.maxEpisodesPerDay == 3)
        #expect(read.recurrenceTolerance == 0)
        #expect(try sigma("").rules == ["record", "likelihood", "drift", "stuck"])
        do {
            _ = try sigma("[detect]\nrules = [\"record\", \"sigma\"]\n")
            Issue.record("an unknown rule must be refused")
        } catch {
            let text = "\(error)"
            #expect(text.contains("outpost.toml:4:1:"), "\(text)")
            #expect(text.contains("unknown rule \"sigma\""), "\(text)")
            #expect(text.contains("\"likelihood\""), "the message lists the rules there are")
        }
        #expect(throws: (any Error).self) { try sigma("[detect]\nseasonality = \"weekly\"\n") }
        #expect(throws: (any Error).self) { try sigma("[detect]\nseasonal_learning = \"6h\"\n") }
        #expect(throws: (any Error).self) { try sigma("[detect]\nlikelihood_threshold = 0\n") }
        #expect(throws: (any Error).self) { try sigma("[detect]\nconfirm_samples = 12\n") }
    }
}
