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

    func sigma(_ toml: String, series name: String = "greenhouse.temperature") throws -> SigmaConfiguration {
        let configuration = try OutpostConfiguration.parse(input + toml, file: "outpost.toml", environment: [:])
        return configuration.detection.settings(for: Series(name: name, unit: "Cel"), sensorPatch: nil).sigma
    }

    @Test("sensitivity sets sigma and confirm_samples together")
    func presets() throws {
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
}
