import OutpostCore
import OutpostDetect
import OutpostInputs
import OutpostTestSupport
import Testing
@testable import OutpostRuntime

@Suite("Built-in default")
struct BuiltInDemoTests {
    /// Runs the built-in default's simulated sensors through its detection for `seconds`, one tick per second.
    func demoEvents(seconds: Int) throws -> [Event] {
        let configuration = try OutpostConfiguration.parse(BuiltInConfiguration.text, file: "built-in",
                                                           environment: [:])
        var engine = DetectionEngine(configuration: configuration.detection)
        var simulated = configuration.inputs.compactMap { configured -> (PolledInput<SimulatedReader>, SampleSource)? in
            ((try? configured.settings.makeInput(InputResources())) as? PolledInput<SimulatedReader>).map { ($0, configured.source) }
        }
        var readers = simulated.map(\.0.reader)
        var events: [Event] = []
        for second in 0..<seconds {
            let now = Int64(second) * 1_000_000_000
            for index in readers.indices {
                let interval = Int(simulated[index].0.pollInterval.components.seconds)
                guard second % interval == 0 else { continue }
                for case .sample(let sample) in readers[index].read(now: now) {
                    events += engine.process(sample, from: simulated[index].1)
                }
            }
            events += engine.checkStaleness(now: now)
        }
        simulated.removeAll()
        return events
    }

    @Test("the demo raises its first alert within a minute, and the spike's episode resolves")
    func alertWithinAMinute() throws {
        let events = try demoEvents(seconds: 300)
        let first = try #require(events.first { $0.severity >= .warn })
        #expect(first.time < 60 * 1_000_000_000)
        let temperature = events.filter { $0.series?.name == "demo.greenhouse.temperature" }.map(\.name)
        #expect(temperature.prefix(2) == [.anomalyRaised, .anomalyResolved])
    }

    @Test("every demo alert comes from an injected fault, none from plain noise")
    func noFalseAlerts() throws {
        let events = try demoEvents(seconds: 300)
        let raised = events.filter { $0.severity >= .warn }.map { ($0.series?.name ?? "", $0.time / 1_000_000_000) }
        let expected: [(String, Int64)] = [
            ("demo.greenhouse.temperature", 35), ("demo.node1.battery", 50), ("demo.greenhouse.humidity", 75),
            ("demo.greenhouse.temperature", 155), ("demo.greenhouse.humidity", 183), ("demo.greenhouse.temperature", 275),
        ]
        #expect(raised.map(\.0) == expected.map(\.0))
        #expect(raised.map(\.1) == expected.map(\.1))
    }
}
