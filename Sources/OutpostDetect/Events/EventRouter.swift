import Logging
import OutpostCore
import ServiceLifecycle
import Synchronization

/// The one door every event enters by: detection's, the inputs' faults, the spool's drops, the uplinks' state
/// changes. Each goes through the alert filter, then to the outputs (the log; standard output for alerts), then on
/// to the batcher, alerts flagged for their own lane.
///
/// Events stamped before the wall clock could be trusted (a Pi booting at 1970) wait here and leave with the right
/// time once it is (at most `maximumHeld`, the oldest dropped); they are logged at once all the same, so the
/// journal is not silent. The door never blocks (an unbounded stream): detection's events are bounded by the
/// per-series episode budget and the runtime's own reports are rate-limited.
package final class EventRouter: Service, EventSink {
    private enum Message {
        case events([Event])
        case tick
    }

    package static let maximumHeld = 1000

    private let stream: AsyncStream<Message>
    private let continuation: AsyncStream<Message>.Continuation
    private let outputs: [any EventOutput]
    private let minSeverity: Severity
    private let sendResolved: Bool
    /// The batcher; connected once before `run`, after it exists (it needs the spool, which needs this door).
    private let nextStage = Mutex<(any RoutedEventSink)?>(nil)
    private let counters: PipelineCounters?
    private let provisionalClock: (any ProvisionalWallClock)?
    private let clock: any Clock<Duration>
    private let logger: Logger

    package init(minSeverity: Severity, sendResolved: Bool, outputs: [any EventOutput],
                 counters: PipelineCounters?, provisionalClock: (any ProvisionalWallClock)?,
                 clock: any Clock<Duration>, logger: Logger) {
        (stream, continuation) = AsyncStream<Message>.makeStream()
        self.minSeverity = minSeverity
        self.sendResolved = sendResolved
        self.outputs = outputs
        self.counters = counters
        self.provisionalClock = provisionalClock
        self.clock = clock
        self.logger = logger
    }

    package func connect(to next: any RoutedEventSink) {
        nextStage.withLock { $0 = next }
    }

    package func send(_ events: [Event]) {
        guard !events.isEmpty else { return }
        continuation.yield(.events(events))
    }

    package func run() async throws {
        var filter = AlertFilter(minSeverity: minSeverity, sendResolved: sendResolved)
        var held: [Event] = []
        let next = nextStage.withLock { $0 }
        let continuation = self.continuation, clock = self.clock
        await withDiscardingTaskGroup { group in
            if provisionalClock != nil {
                group.addTask {
                    while !Task.isCancelled {
                        do { try await clock.sleep(for: .seconds(1), tolerance: nil) } catch { return }
                        continuation.yield(.tick)
                    }
                }
            }
            await withGracefulShutdownHandler {
                for await message in stream {
                    switch message {
                    case .events(let events):
                        await route(hold(events, in: &held), filter: &filter, next: next)
                    case .tick:
                        await route(release(&held), filter: &filter, next: next)
                    }
                }
            } onGracefulShutdown: {
                continuation.finish()
            }
            group.cancelAll()
        }
    }

    private func route(_ events: [Event], filter: inout AlertFilter, next: (any RoutedEventSink)?) async {
        guard !events.isEmpty else { return }
        var routed: [RoutedEvent] = []
        routed.reserveCapacity(events.count)
        for event in events {
            let isAlert = filter.admit(event)
            routed.append(RoutedEvent(event, isAlert: isAlert))
            for output in outputs where isAlert || !output.alertsOnly {
                await output.publish(event)
            }
        }
        let alerts = routed.count { $0.isAlert }
        counters?.update { totals in
            totals.events += events.count
            totals.alerts += alerts
            for event in events { totals.eventsByName[event.name, default: 0] += 1 }
        }
        await next?.accept(routed)
    }

    /// What may go on now: everything when the clock is trusted (the held events first, stamped right), else the
    /// events with wall-clock stamps, the provisional ones held.
    private func hold(_ events: [Event], in held: inout [Event]) -> [Event] {
        guard let provisionalClock else { return events }
        if provisionalClock.isTrusted { return release(&held) + events.map { resolved($0, by: provisionalClock) } }
        var ready: [Event] = []
        for event in events {
            guard event.time < 0 else {
                ready.append(event)
                continue
            }
            let level: Logger.Level = event.severity >= .error ? .error : .warning
            logger.log(level: level, "\(event.name.rawValue) (sent once the clock is set): \(event.message)")
            held.append(event)
        }
        if held.count > Self.maximumHeld { held.removeFirst(held.count - Self.maximumHeld) }
        return ready
    }

    private func release(_ held: inout [Event]) -> [Event] {
        guard let provisionalClock, !held.isEmpty, provisionalClock.isTrusted else { return [] }
        defer { held = [] }
        return held.map { resolved($0, by: provisionalClock) }
    }

    private func resolved(_ event: Event, by clock: any ProvisionalWallClock) -> Event {
        guard event.time < 0 else { return event }
        return Event(name: event.name, severity: event.severity, time: clock.resolve(event.time) ?? 0,
                     series: event.series, message: event.message, attributes: event.attributes)
    }
}
