import AsyncAlgorithms
import Logging
import OutpostCore
import OutpostWire
import ServiceLifecycle

/// What reaches the batcher's task.
enum BatcherMessage: Sendable {
    case samples([Sample])
    /// Events, with whether each is an alert (alerts get a lane of their own and leave at once).
    case events([RoutedEvent])
    /// `now` stamps what is flushed (wall clock); `monotonic` measures batch ages and intervals (`MonotonicClock`).
    case tick(now: Int64, monotonic: Int64)
}

/// Alert documents for an MQTT alert publisher: one alert JSON per alert, addressed by its topic.
package struct AlertDocuments: Sendable {
    package let topic: AlertTopic
    package let gateway: String

    package init(topic: AlertTopic, gateway: String) {
        self.topic = topic
        self.gateway = gateway
    }
}

/// Collects samples and events into OTLP batches and hands them to the spool (`Sink`).
///
/// Metrics and events close after `max_age` or `max_points`, alerts at once. With an alert publisher, an alert
/// leaves at once as its alert document, and its OTLP log record goes upstream with the next events batch; without
/// one, the uplinks are the alert's only way out, and its log record leaves at once in the alerts lane.
///
/// On graceful shutdown (after detection and the event router have drained) everything pending is flushed into the sink, so a clean stop loses
/// nothing; a crash loses at most what arrived in the last `max_age`. Ages are measured on the monotonic `clock`
/// from when the batcher received the first item, never from the items' wall-clock stamps: a clock step cannot hold
/// a batch open.
package final class BatcherService<Sink: BatchSink, C: Clock<Duration>>: Service, SampleSink, RoutedEventSink {
    private let channel = AsyncChannel<BatcherMessage>()
    private let builder: BatchBuilder
    private let configuration: BatchConfiguration
    private let sink: Sink
    private let clock: C
    private let monotonic: MonotonicClock
    private let wallClock: any WallClock
    private let logger: Logger
    /// When an alert publisher is configured: each alert also becomes one alert document for it.
    private let alertDocuments: AlertDocuments?
    /// Outpost's own metrics at a wall-clock time, sampled every `selfMetricsInterval` into the metrics lane.
    private let selfMetrics: @Sendable (Int64) -> [Sample]
    private let selfMetricsInterval: Duration
    /// Report-on-change and per-uplink aggregation (`Reduction.none`: every sample to every uplink).
    private let reduction: Reduction

    package init(configuration: BatchConfiguration, resource: Attributes, sink: Sink,
                 alertDocuments: AlertDocuments? = nil, selfMetricsInterval: Duration = .zero,
                 selfMetrics: @escaping @Sendable (Int64) -> [Sample] = { _ in [] }, reduction: Reduction = .none,
                 clock: C, wallClock: any WallClock, logger: Logger) {
        self.alertDocuments = alertDocuments
        self.reduction = reduction
        self.builder = BatchBuilder(encoder: OTLPEncoder(resource: resource), format: configuration.format)
        self.configuration = configuration
        self.sink = sink
        self.selfMetrics = selfMetrics
        self.selfMetricsInterval = selfMetricsInterval
        self.clock = clock
        self.monotonic = MonotonicClock(clock)
        self.wallClock = wallClock
        self.logger = logger
    }

    package func accept(_ samples: [Sample]) async {
        await channel.send(.samples(samples))
    }

    package func accept(_ events: [RoutedEvent]) async {
        await channel.send(.events(events))
    }

    package func run() async throws {
        var state = PendingBatches()
        for interval in reduction.intervals { state.aggregates[interval] = AggregateStream(interval: interval) }
        let channel = self.channel, clock = self.clock, wallClock = self.wallClock, monotonic = self.monotonic
        // Ticks check batch ages: once a second, or more often when max_age is shorter.
        let tickInterval = min(.seconds(1), configuration.maxAge)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                await Ticker.run(every: tickInterval, clock: clock, wallClock: wallClock) {
                    await channel.send(.tick(now: $0, monotonic: monotonic.nowNanos()))
                }
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
        // Intervals still open are sent as they are: their counts and sums are not lost with the process.
        closeIntervals(&state, everything: true)
        await flush(&state, lanes: [.alerts, .events, .metrics], now: wallClock.nowNanos())
        logger.info("batcher stopped; pending batches handed to the spool")
    }

    private func handle(_ message: BatcherMessage, state: inout PendingBatches) async {
        switch message {
        case .samples(let incoming):
            let samples = reduce(incoming, state: &state)
            var rest = samples[...]
            while !rest.isEmpty {
                rest = state.add(rest, at: monotonic.nowNanos())
                // A counter reset ends the batch first: each batch holds one start time per counter series.
                if !rest.isEmpty || state.metrics.count >= configuration.maxPoints {
                    await flush(&state, lanes: [.metrics], now: wallClock.nowNanos())
                }
            }
        case .events(let events):
            state.add(events, at: monotonic.nowNanos())
            if !state.alerts.isEmpty { await flush(&state, lanes: [.alerts], now: wallClock.nowNanos()) }
            if state.events.count >= configuration.maxPoints {
                await flush(&state, lanes: [.events], now: wallClock.nowNanos())
            }
        case .tick(let now, let monotonic):
            addSelfMetricsIfDue(&state, now: now, monotonic: monotonic)
            closeIntervals(&state)
            let due = state.lanesOlderThan(UnixNanos.from(configuration.maxAge), now: monotonic)
            if !due.isEmpty { await flush(&state, lanes: due, now: now) }
        }
    }

    private func flush(_ state: inout PendingBatches, lanes: [Lane], now: Int64) async {
        var batches: [Batch] = []
        for lane in lanes {
            do {
                switch lane {
                case .metrics:
                    let samples = state.takeMetrics()
                    let starts = state.counterStarts
                    // Full resolution for the uplinks that do not aggregate now (nil: all; empty: none).
                    let full = reduction.fullResolutionUplinks()
                    if full?.isEmpty != true {
                        batches += try builder.metricsBatches(samples, now: now, uplinks: full) { starts[$0] ?? now }
                    }
                    batches += try aggregateBatches(&state, now: now)
                case .events:
                    batches += try builder.logsBatches(state.takeEvents(lane), lane: lane, now: now)
                case .alerts:
                    let alerts = state.takeEvents(lane)
                    if alertDocuments == nil {
                        batches += try builder.logsBatches(alerts, lane: lane, now: now)
                    } else {
                        // The alert topic carries each alert at once; the upstream copy rides with the next events
                        // batch instead of costing a request (about 450 bytes) of its own.
                        batches += alertDocuments(alerts, now: now)
                        state.addEvents(alerts, at: monotonic.nowNanos())
                    }
                }
            } catch {
                logger.error("cannot encode a \(lane) batch: \(error)")
            }
        }
        if !batches.isEmpty { await sink.write(batches) }
    }

    /// One alert JSON document per alert: its signal (`.alert`) is what only the alert publisher accepts.
    private func alertDocuments(_ alerts: [Event], now: Int64) -> [Batch] {
        guard let alertDocuments else { return [] }
        return alerts.map { event in
            let json = Array(AlertJSON.encode(event, gateway: alertDocuments.gateway).utf8)
            return Batch(id: BatchBuilder.newBatchID(), lane: .alerts, signal: .alert, format: .alertJSON,
                         contentEncoding: .identity, created: now, items: 1,
                         uncompressedBytes: json.count, payload: json, routing: alertDocuments.topic.topic(for: event))
        }
    }

    private func addSelfMetricsIfDue(_ state: inout PendingBatches, now: Int64, monotonic: Int64) {
        let interval = UnixNanos.from(selfMetricsInterval)
        guard interval > 0, state.lastSelfMetrics.map({ monotonic - $0 >= interval }) ?? true else { return }
        state.lastSelfMetrics = monotonic
        // Outpost's own counters only grow while it runs, so they never reset mid-batch and `add` takes them all.
        let samples = selfMetrics(now)
        _ = state.add(samples[...], at: monotonic)
        // Aggregating uplinks get them as they are: one point each per self-metrics interval already.
        for interval in state.aggregates.keys {
            for sample in samples { state.aggregates[interval]?.append(.sample(sample), at: monotonic) }
        }
    }

    // MARK: report-on-change and aggregation

    /// Feeds every sample to the aggregation intervals, and returns those report-on-change lets through for
    /// full resolution. Detection has already seen them all.
    private func reduce(_ samples: [Sample], state: inout PendingBatches) -> [Sample] {
        let monotonic = self.monotonic.nowNanos()
        if !state.aggregates.isEmpty {
            for interval in Array(state.aggregates.keys) {
                guard var stream = state.aggregates.removeValue(forKey: interval) else { continue }
                for sample in samples {
                    let closed = stream.aggregator.add(sample, at: monotonic)
                    if !closed.isEmpty { stream.take(closed, rule: { state.rule(for: $0, reduction) }, at: monotonic) }
                }
                state.aggregates[interval] = stream
            }
        }
        guard reduction.reportsOnChange else { return samples }
        return samples.filter { sample in
            guard let rule = state.rule(for: sample.series, reduction) else { return true }
            return state.changes.admit(sample.series, values: [sample.value], time: sample.time, rule: rule)
        }
    }

    /// Closes the intervals that ended a grace period ago (all of them at stop), and, about every ten minutes, forgets
    /// series silent for a day (both on the samples' own clock).
    private func closeIntervals(_ state: inout PendingBatches, everything: Bool = false) {
        let monotonic = self.monotonic.nowNanos()
        for interval in Array(state.aggregates.keys) {
            guard var stream = state.aggregates.removeValue(forKey: interval) else { continue }
            let closed = stream.aggregator.close(at: monotonic, everything: everything)
            stream.take(closed, rule: { state.rule(for: $0, reduction) }, at: monotonic)
            state.aggregates[interval] = stream
        }
        let day = UnixNanos.from(.seconds(86_400))
        guard state.lastForget.map({ monotonic - $0 >= UnixNanos.from(.seconds(600)) }) ?? true else { return }
        state.lastForget = monotonic
        state.changes.forget(olderThan: day)
        for interval in Array(state.aggregates.keys) { state.aggregates[interval]?.aggregator.forget(olderThan: day) }
        state.rules = [:]
    }

    /// Each interval's waiting points, as batches for the uplinks that aggregate at it now (none: dropped; their
    /// counts carry on in the cumulative sums).
    private func aggregateBatches(_ state: inout PendingBatches, now: Int64) throws -> [Batch] {
        var batches: [Batch] = []
        for interval in state.aggregates.keys.sorted() {
            guard let points = state.aggregates[interval]?.takePending(), !points.isEmpty else { continue }
            let uplinks = reduction.aggregateUplinks(interval)
            guard !uplinks.isEmpty else { continue }
            batches += try builder.aggregateBatches(points, now: now, uplinks: uplinks)
        }
        return batches
    }
}

/// What the batcher holds in memory between flushes.
package struct PendingBatches {
    package var metrics: [Sample] = []
    package var events: [Event] = []
    package var alerts: [Event] = []
    /// Monotonic nanoseconds when the open metrics / events batch received its first item.
    package var firstMetric: Int64?
    package var firstEvent: Int64?
    package var lastSelfMetrics: Int64?
    /// Per aggregation interval: its aggregator and waiting points.
    var aggregates: [Duration: AggregateStream] = [:]
    /// What report-on-change last sent of each series at full resolution.
    var changes = ChangeFilter()
    /// Each series' report-on-change rule, resolved once (nil inside: every sample goes).
    var rules: [Series: ChangeRule?] = [:]
    var lastForget: Int64?
    /// The start of each counter series' cumulative sum: when it was first seen, or just after the last point
    /// before its latest reset.
    package var counterStarts: [Series: Int64] = [:]
    /// The latest point of each counter series, to notice a reset (the value went down: a reboot, a driver reload,
    /// a wrapped 32-bit counter).
    private var lastCounter: [Series: Sample] = [:]
    /// Counter series with points in `metrics`.
    private var pendingCounters: Set<Series> = []

    /// Adds samples up to the first counter reset of a series that already has points waiting, and returns the
    /// rest: the caller flushes, then adds them. A reset starts a new cumulative series, as the OTLP metrics data
    /// model requires (Sums, "Resets and Gaps"): its start time is just after the last point before the reset.
    package mutating func add(_ samples: ArraySlice<Sample>, at monotonic: Int64) -> ArraySlice<Sample> {
        guard !samples.isEmpty else { return [] }
        if firstMetric == nil { firstMetric = monotonic }
        for index in samples.indices where samples[index].series.kind == .counter {
            let sample = samples[index]
            if let last = lastCounter[sample.series], sample.value < last.value {
                if pendingCounters.contains(sample.series) {
                    metrics += samples[..<index]
                    return samples[index...]
                }
                counterStarts[sample.series] = last.time < sample.time ? last.time + 1 : sample.time
            } else if counterStarts[sample.series] == nil {
                counterStarts[sample.series] = sample.time
            }
            lastCounter[sample.series] = sample
            pendingCounters.insert(sample.series)
        }
        metrics += samples
        return []
    }

    package mutating func add(_ incoming: [RoutedEvent], at monotonic: Int64) {
        for routed in incoming {
            if routed.isAlert {
                alerts.append(routed.event)
            } else {
                addEvents([routed.event], at: monotonic)
            }
        }
    }

    /// Events for the events lane, which closes `max_age` after its first one.
    package mutating func addEvents(_ incoming: [Event], at monotonic: Int64) {
        guard !incoming.isEmpty else { return }
        if firstEvent == nil { firstEvent = monotonic }
        events += incoming
    }

    package func lanesOlderThan(_ age: Int64, now: Int64) -> [Lane] {
        var lanes: [Lane] = []
        if let firstEvent, now - firstEvent >= age { lanes.append(.events) }
        let firstAggregate = aggregates.values.compactMap(\.first).min()
        if let first = [firstMetric, firstAggregate].compactMap({ $0 }).min(), now - first >= age {
            lanes.append(.metrics)
        }
        return lanes
    }

    /// The report-on-change rule of `series`, looked up once.
    mutating func rule(for series: Series, _ reduction: Reduction) -> ChangeRule? {
        guard reduction.reportsOnChange else { return nil }
        if let known = rules[series] { return known }
        let rule = reduction.rule(series)
        rules[series] = rule
        return rule
    }

    package mutating func takeMetrics() -> [Sample] {
        defer {
            metrics = []
            firstMetric = nil
            pendingCounters = []
        }
        return metrics
    }

    package mutating func takeEvents(_ lane: Lane) -> [Event] {
        if lane == .alerts {
            defer { alerts = [] }
            return alerts
        }
        defer {
            events = []
            firstEvent = nil
        }
        return events
    }
}
