import AsyncAlgorithms
import Logging
import OutpostCore
import ServiceLifecycle

/// What detection needs to know, as plain values.
package struct DetectionServiceSettings: Sendable {
    package var detection: DetectionConfiguration
    /// Per input, in input order: its detection overrides and interval.
    package var sources: [SampleSource]
    /// Per input: `<kind> <name>`, for the log.
    package var inputNames: [String]
    /// `[log] problem_interval` and `readings_interval`.
    package var problemInterval: Duration
    package var readingsInterval: Duration

    package init(detection: DetectionConfiguration, sources: [SampleSource], inputNames: [String],
                 problemInterval: Duration, readingsInterval: Duration) {
        self.detection = detection
        self.sources = sources
        self.inputNames = inputNames
        self.problemInterval = problemInterval
        self.readingsInterval = readingsInterval
    }
}

/// The one task that owns detection: consumes readings from every input, runs the detectors, passes samples on to
/// the batcher and every event to the event router. Owning the engine alone means no locks on the hot path.
///
/// On graceful shutdown (which reaches it after every input has stopped) it drains what is queued, then returns.
package final class DetectionService: Service {
    let channel = AsyncChannel<DetectionMessage>()
    /// The settings it starts with; a reload's replace them in the detection task's state.
    private let settings: DetectionServiceSettings
    /// What a previous pipeline learned, carried over a reload that restarted the pipeline.
    private let resuming: DetectionHandover?
    private let samples: any SampleSink
    private let events: any EventSink
    private let counters: PipelineCounters?
    private let clock: any Clock<Duration>
    private let wallClock: any WallClock
    private let logger: Logger

    package init(settings: DetectionServiceSettings, samples: any SampleSink, events: any EventSink,
                 counters: PipelineCounters?, clock: any Clock<Duration>, wallClock: any WallClock, logger: Logger,
                 resuming: DetectionHandover? = nil) {
        self.settings = settings
        self.resuming = resuming
        self.samples = samples
        self.events = events
        self.counters = counters
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
    }

    /// The door input `index` writes its readings into.
    package func door(forInput index: Int) -> DetectionDoor {
        DetectionDoor(index: index, channel: channel)
    }

    /// The door a poll group writes a tick's readings of all its inputs into.
    package var batchDoor: DetectionBatchDoor {
        DetectionBatchDoor(channel: channel)
    }

    package func run() async throws {
        var state = DetectionState(settings: settings, resuming: resuming?.take())
        let channel = self.channel
        try await withThrowingDiscardingTaskGroup { group in
            let clock = self.clock, wallClock = self.wallClock
            group.addTask {
                await Ticker.run(every: .seconds(1), clock: clock, wallClock: wallClock) { await channel.send(.tick(now: $0)) }
            }
            await withGracefulShutdownHandler {
                for await message in channel {
                    await handle(message, state: &state)
                }
            } onGracefulShutdown: {
                channel.finish()
            }
            group.cancelAll()
        }
        logger.info("detection stopped", metadata: ["samples": "\(state.samplesSeen)", "events": "\(state.eventsSeen)"])
        resuming?.keep(state.engine, latest: state.latest)
    }

    private func handle(_ message: DetectionMessage, state: inout DetectionState) async {
        switch message {
        case .readings(let batch):
            var samples: [Sample] = []
            var events: [Event] = []
            let tallies = batch.map { detect($0, samples: &samples, events: &events, state: &state) }
            count(tallies, suppressed: state.engine.suppressedEpisodes)
            state.samplesSeen += samples.count
            state.eventsSeen += events.count
            if !samples.isEmpty { await self.samples.accept(samples) }
            if !events.isEmpty { self.events.send(events) }
        case .tick(let now):
            let stale = state.engine.checkStaleness(now: now)
            state.eventsSeen += stale.count
            if !stale.isEmpty { events.send(stale) }
            logReadingsIfDue(now: now, state: &state)
            counters?.heartbeat()
        case .reconfigure(let settings):
            state.reconfigure(settings, logger: logger)
        case .latest(let answer):
            answer(state.latest.values)
        }
    }

    /// What one input's readings added up to, for the counters.
    private struct Tally {
        let input: Int
        var samples = 0
        var problems = 0
        var lastSample: Int64?
    }

    /// Runs one input's readings through the engine, appending what passes on, and tallies them.
    private func detect(_ entry: InputReadings, samples: inout [Sample], events: inout [Event],
                        state: inout DetectionState) -> Tally {
        var tally = Tally(input: entry.input)
        let input = entry.input
        for reading in entry.readings {
            switch reading {
            case .sample(let sample):
                state.latest.record(sample)
                samples.append(sample)
                tally.samples += 1
                tally.lastSample = sample.time
                events += state.engine.process(sample, from: state.settings.sources[input])
            case .event(let event):
                if event.name == .sensorFault, let series = event.series {
                    state.latest.fault(series)
                    state.engine.fault(series)
                }
                events.append(event)
            case .forgotten(let series):
                events += state.engine.forget(series)
                state.latest.forget(series)
            case .problem(let text):
                tally.problems += 1
                let name = state.settings.inputNames[input]
                state.problems[input].record(text, now: wallClock.nowNanos(),
                                             interval: state.settings.problemInterval) { line in
                    logger.warning("\(name): \(line)")
                }
            }
        }
        return tally
    }

    /// One update of the counters for a whole message (a poll group's tick holds every input of an interval).
    private func count(_ tallies: [Tally], suppressed: Int) {
        guard let counters, tallies.contains(where: { $0.samples > 0 || $0.problems > 0 }) else { return }
        counters.update { totals in
            totals.anomaliesSuppressed = suppressed
            for tally in tallies {
                totals.samplesIngested += tally.samples
                totals.inputs[tally.input].samples += tally.samples
                totals.inputs[tally.input].problems += tally.problems
                if let last = tally.lastSample { totals.inputs[tally.input].lastSample = last }
            }
        }
    }

    private func logReadingsIfDue(now: Int64, state: inout DetectionState) {
        let interval = UnixNanos.from(state.settings.readingsInterval)
        guard interval > 0, now - state.lastReadingsLog >= interval, let line = state.latest.line() else { return }
        state.lastReadingsLog = now
        logger.info("readings: \(line)")
    }
}

/// Everything the detection task mutates, kept together and owned by that task alone.
struct DetectionState {
    var settings: DetectionServiceSettings
    var engine: DetectionEngine
    var latest = LatestReadings()
    var problems: [ProblemThrottle]
    var lastReadingsLog: Int64 = 0
    var samplesSeen = 0
    var eventsSeen = 0

    init(settings: DetectionServiceSettings, resuming: (DetectionEngine, LatestReadings)?) {
        self.settings = settings
        engine = DetectionEngine(configuration: settings.detection)
        problems = Array(repeating: ProblemThrottle(), count: settings.sources.count)
        if let (engine, latest) = resuming {
            self.engine = engine
            self.latest = latest
            reconfigure(settings, logger: nil)
        }
    }
}

/// At most one log line per interval per input about bad data; the lines in between are counted, not lost.
package struct ProblemThrottle: Sendable {
    private var lastLogged: Int64?
    private var suppressed = 0

    package mutating func record(_ text: String, now: Int64, interval: Duration, log: (String) -> Void) {
        if let lastLogged, now - lastLogged < UnixNanos.from(interval) {
            suppressed += 1
            return
        }
        log(suppressed > 0 ? "\(text) (and \(suppressed) more problems since the last report)" : text)
        lastLogged = now
        suppressed = 0
    }
}
