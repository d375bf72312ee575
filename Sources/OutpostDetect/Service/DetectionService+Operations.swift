import Logging
import OutpostCore
import Synchronization

// The operations' doors into detection, kept here so the rest of detection need not know about them: a reload
// (OutpostRuntime/Reload) changes detection only through `reconfigure` and, when it restarts the whole pipeline,
// `DetectionHandover`; the local endpoint reads the latest values through `latestValues`.

extension DetectionService {
    /// Applies a reload's settings in order with the readings: everything sent before is detected under the old
    /// settings, everything after under the new. `settings.sources` is indexed by input slot; a slot whose source
    /// has no `input` number is an input that is gone. Returns once the detection task has taken them.
    package func reconfigure(_ settings: DetectionServiceSettings) async {
        await channel.send(.reconfigure(settings))
    }

    /// Every series' latest value (nil while its sensor is in fault), asked of the detection task in order with the
    /// readings, for the local endpoint. Nil when detection has stopped.
    package func latestValues() async -> [(series: Series, value: Double?)]? {
        let answer = Mutex<[(series: Series, value: Double?)]?>(nil)
        let answered = WakeSignal()
        await channel.send(.latest { values in
            answer.withLock { $0 = values }
            answered.signal()
        })
        // Bounded: the channel is finished at shutdown, and then nobody answers.
        for _ in 0..<20 where answer.withLock({ $0 }) == nil {
            await answered.wait(upTo: .milliseconds(100), clock: ContinuousClock())
        }
        return answer.withLock { $0 }
    }
}

extension DetectionState {
    @discardableResult
    mutating func reconfigure(_ settings: DetectionServiceSettings, logger: Logger?) -> DetectionReconfiguration {
        self.settings = settings
        if problems.count < settings.sources.count {
            problems += Array(repeating: ProblemThrottle(), count: settings.sources.count - problems.count)
        }
        let outcome = engine.reconfigure(settings.detection, sources: settings.liveSource(ofInput:))
        for series in outcome.gone { latest.forget(series) }
        logger?.info("detection reconfigured", metadata: ["series kept": "\(outcome.kept)",
                                                         "series restarted": "\(outcome.restarted)",
                                                         "series forgotten": "\(outcome.forgotten)"])
        return outcome
    }
}

extension DetectionServiceSettings {
    /// The source of input slot `input`, nil for a slot whose input is gone.
    func liveSource(ofInput input: Int) -> SampleSource? {
        guard sources.indices.contains(input), sources[input].input != nil else { return nil }
        return sources[input]
    }
}

/// Carries the detection engine (and the latest readings) from a pipeline that a reload stopped to the one it
/// starts, so series keep their baselines and open episodes across a pipeline restart.
package final class DetectionHandover: Sendable {
    private let kept = Mutex<(DetectionEngine, LatestReadings)?>(nil)

    package init() {}

    func keep(_ engine: DetectionEngine, latest: LatestReadings) {
        kept.withLock { $0 = (engine, latest) }
    }

    /// What the last pipeline left, once.
    func take() -> (DetectionEngine, LatestReadings)? {
        kept.withLock { kept in
            defer { kept = nil }
            return kept
        }
    }
}
