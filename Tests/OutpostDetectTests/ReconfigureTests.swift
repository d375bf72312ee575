import OutpostCore
@testable import OutpostDetect
import Testing

@Suite("Reload: detection keeps each series' state unless its settings changed")
struct ReconfigureTests {
    /// 40 calm samples, then a shift to 30: an episode opens and stays open.
    func engineMidEpisode(_ configuration: DetectionConfiguration, source: SampleSource) -> (DetectionEngine, [Event]) {
        var engine = DetectionEngine(configuration: configuration)
        var events: [Event] = []
        for index in 0..<50 {
            let value = index < 40 ? 20 + Double(index % 3) * 0.1 : 30.0
            events += engine.process(Sample(series: series(), time: Int64(index) * second, value: value), from: source)
        }
        return (engine, events)
    }

    func configuration(sigma: Double = 4) -> DetectionConfiguration {
        var configuration = DetectionConfiguration()
        configuration.defaults.anomaly.warmup = 20
        configuration.defaults.anomaly.sigma = sigma
        return configuration
    }

    @Test("unchanged settings: the open episode carries on, a later excursion raises nothing new")
    func keeps() {
        let source = SampleSource(interval: .seconds(1), input: 0)
        var (engine, events) = engineMidEpisode(configuration(), source: source)
        #expect(events.filter { $0.name == .anomalyRaised }.count == 1)
        let outcome = engine.reconfigure(configuration(), sources: { $0 == 0 ? source : nil })
        #expect(outcome == DetectionReconfiguration(kept: 1, restarted: 0, forgotten: 0))
        let later = (50..<80).flatMap {
            engine.process(Sample(series: series(), time: Int64($0) * second, value: $0 >= 75 ? 60 : 30), from: source)
        }
        #expect(later.filter { $0.name == .anomalyRaised }.isEmpty, "still the same episode")
    }

    @Test("changed settings for the series: it starts afresh (warm-up included)")
    func restarts() {
        let source = SampleSource(interval: .seconds(1), input: 0)
        var (engine, _) = engineMidEpisode(configuration(), source: source)
        let outcome = engine.reconfigure(configuration(sigma: 5), sources: { _ in source })
        #expect(outcome.restarted == 1 && outcome.kept == 0)
        #expect(engine.seriesCount == 0)
        #expect(engine.configuration.defaults.anomaly.sigma == 5)
    }

    @Test("the series of an input that is gone are forgotten, so they never go stale")
    func forgets() {
        let source = SampleSource(interval: .seconds(1), input: 3)
        var (engine, _) = engineMidEpisode(configuration(), source: source)
        let outcome = engine.reconfigure(configuration(), sources: { _ in nil })
        #expect(outcome.forgotten == 1 && outcome.gone == [series()])
        #expect(engine.checkStaleness(now: 1000 * second).isEmpty)
    }
}
