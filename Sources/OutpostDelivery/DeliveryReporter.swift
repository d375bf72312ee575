import OutpostCore
import ServiceLifecycle
import Synchronization

/// Turns what the delivery loops report into events at the event router's door: an uplink that starts failing or
/// delivers again (`outpost.uplink.state`), and batches an uplink refused for good (`outpost.spool.dropped`).
///
/// Refusals are rate-limited (`DropReports`): the first per uplink and lane at once, the rest of a minute summed
/// into one report. A receiver that refuses everything also refuses these reports; without the limit each report
/// would become a batch, be refused, and be reported again, forever (and evict real data).
package final class DeliveryReporter: Service, Sendable {
    /// One step of the refusal windows; `DropReports.windowSteps` steps make a window.
    package static let stepInterval: Duration = .seconds(5)

    private let events: any EventSink
    private let eventClock: any WallClock
    private let clock: any Clock<Duration>
    private let drops = Mutex(DropReports())

    /// `eventClock` stamps the events (the inputs' clock, whose provisional stamps the router holds until the wall
    /// clock is trusted); `clock` paces the windows (monotonic).
    package init(events: any EventSink, eventClock: any WallClock, clock: any Clock<Duration>) {
        self.events = events
        self.eventClock = eventClock
        self.clock = clock
    }

    package func report(_ report: DeliveryReport, uplink: String, endpoint: String) {
        switch report {
        case .transition(let transition):
            reportTransition(transition, uplink: uplink, endpoint: endpoint)
        case .rejected(let batch, let reason):
            reportRejection(batch, uplink: uplink, reason: reason)
        case .droppedItems(let batch, let items, let bytes, let reason):
            reportDroppedItems(batch, items: items, bytes: bytes, uplink: uplink, reason: reason)
        }
    }

    package func run() async throws {
        try? await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                try await clock.sleep(for: Self.stepInterval, tolerance: nil)
                step()
            }
        }
        for summary in drops.withLock({ $0.drain() }) { send(DropReports.summaryEvent(summary, time: now)) }
    }

    /// Closes the refusal windows that are due, reporting their summaries.
    package func step() {
        for summary in drops.withLock({ $0.step() }) { send(DropReports.summaryEvent(summary, time: now)) }
    }

    private var now: Int64 { eventClock.nowNanos() }

    private func send(_ event: Event) {
        events.send([event])
    }

    private func reportRejection(_ batch: Batch, uplink: String, reason: String) {
        let first = drops.withLock {
            $0.admit(uplink: uplink, lane: batch.lane, batches: 1, items: batch.items, bytes: batch.payload.count,
                     reason: reason)
        }
        guard first else { return }
        send(Event(name: .spoolDropped, severity: .warn, time: now, series: nil,
                   message: "\(uplink) rejected \(batch.lane) batch \(batch.id) (\(batch.items) items) for good: "
                       + reason + "; further refusals are counted and reported at most once a minute",
                   attributes: DropReports.attributes(uplink: uplink, lane: batch.lane, batches: 1, items: batch.items,
                                                      bytes: batch.payload.count, reason: reason)))
    }

    /// Items of a delivered batch the receiver can never take: the same rate limit as refused batches, counted as
    /// items (no batch was lost).
    private func reportDroppedItems(_ batch: Batch, items: Int, bytes: Int, uplink: String, reason: String) {
        let first = drops.withLock {
            $0.admit(uplink: uplink, lane: batch.lane, batches: 0, items: items, bytes: bytes, reason: reason)
        }
        guard first else { return }
        send(Event(name: .spoolDropped, severity: .warn, time: now, series: nil,
                   message: "\(uplink) dropped \(items) item(s) of \(batch.lane) batch \(batch.id) for good: " + reason
                       + "; further drops are counted and reported at most once a minute",
                   attributes: DropReports.attributes(uplink: uplink, lane: batch.lane, batches: 0, items: items,
                                                      bytes: bytes, reason: reason)))
    }

    private func reportTransition(_ transition: UplinkConnectionState.Transition, uplink: String, endpoint: String) {
        let down = transition.to == .backingOff
        send(Event(name: .uplinkState, severity: down ? .warn : .info, time: now, series: nil,
                   message: down ? "\(uplink) is failing and backs off: \(transition.reason)" : "\(uplink) delivers again",
                   attributes: ["outpost.uplink": .string(uplink), "outpost.uplink.endpoint": .string(endpoint),
                                "outpost.uplink.from": .string(transition.from.rawValue),
                                "outpost.uplink.to": .string(transition.to.rawValue),
                                "outpost.reason": .string(transition.reason)]))
    }
}
