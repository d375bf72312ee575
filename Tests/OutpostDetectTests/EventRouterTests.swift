import OutpostCore
import OutpostDetect
import OutpostInputs
import OutpostTestSupport
import Testing

@Suite("Alert filter")
struct AlertFilterTests {
    func event(_ name: EventName, _ severity: Severity, series: Series) -> Event {
        Event(name: name, severity: severity, time: 0, series: series, message: "")
    }

    @Test("events below min_severity are not alerts, but the resolution of an alert is")
    func resolutionsFollowAlerts() {
        var filter = AlertFilter(minSeverity: .warn, sendResolved: true)
        var admitted: Bool
        let a = Series(name: "a", unit: ""), b = Series(name: "b", unit: "")
        admitted = filter.admit(event(.anomalyRaised, .warn, series: a))
        #expect(admitted)
        admitted = filter.admit(event(.anomalyResolved, .info, series: b))
        #expect(!admitted, "b never alerted")
        admitted = filter.admit(event(.anomalyResolved, .info, series: a))
        #expect(admitted)
        admitted = filter.admit(event(.anomalyResolved, .info, series: a))
        #expect(!admitted, "only once")
        var quiet = AlertFilter(minSeverity: .warn, sendResolved: false)
        admitted = quiet.admit(event(.thresholdCrossed, .warn, series: a))
        #expect(admitted)
        admitted = quiet.admit(event(.thresholdCleared, .info, series: a))
        #expect(!admitted)
    }

    @Test("an error-only policy ignores warnings and their resolutions")
    func errorOnly() {
        var filter = AlertFilter(minSeverity: .error, sendResolved: true)
        var admitted: Bool
        let a = Series(name: "a", unit: "")
        admitted = filter.admit(event(.thresholdCrossed, .warn, series: a))
        #expect(!admitted)
        admitted = filter.admit(event(.thresholdCleared, .info, series: a))
        #expect(!admitted)
        admitted = filter.admit(event(.thresholdCrossed, .error, series: a))
        #expect(admitted)
        admitted = filter.admit(event(.thresholdCleared, .info, series: a))
        #expect(admitted)
    }
}

/// A logger that drops everything, so in-process runtime tests keep the test output readable.

/// Records what the router hands on.
private final class RoutedRecorder: RoutedEventSink, Sendable {
    let events = AsyncStream<RoutedEvent>.makeStream()

    func accept(_ routed: [RoutedEvent]) async {
        for event in routed { events.continuation.yield(event) }
    }

    func next(_ count: Int) async -> [RoutedEvent] {
        var received: [RoutedEvent] = []
        for await event in events.stream {
            received.append(event)
            if received.count == count { break }
        }
        return received
    }
}

@Suite("Event router: one door for every event")
struct EventRouterTests {
    func event(_ name: EventName, _ severity: Severity, time: Int64) -> Event {
        Event(name: name, severity: severity, time: time, series: nil, message: "m", attributes: [:])
    }

    @Test("events are flagged as alerts by the filter and handed on in order")
    func flagsAlerts() async throws {
        let next = RoutedRecorder()
        let router = EventRouter(minSeverity: .warn, sendResolved: true, outputs: [], counters: nil,
                                 provisionalClock: nil, clock: ManualClock(), logger: quietLogger)
        router.connect(to: next)
        let task = Task { try await router.run() }
        defer { task.cancel() }
        router.send([event(.spoolDropped, .warn, time: 1), event(.uplinkState, .info, time: 2)])
        let routed = await next.next(2)
        #expect(routed.map(\.isAlert) == [true, false])
        #expect(routed.map(\.event.time) == [1, 2])
    }

    @Test("an event raised while the clock reads 1970 waits, then leaves stamped when it happened")
    func heldUntilSync() async throws {
        let clocks = HandSetClocks()
        var probe = ClockSyncProbe()
        probe.timesyncDirectory = "/nonexistent"
        let clock = SyncAwareWallClock(base: clocks, monotonic: clocks, probe: probe)
        let next = RoutedRecorder()
        let router = EventRouter(minSeverity: .warn, sendResolved: true, outputs: [], counters: nil,
                                 provisionalClock: clock, clock: ManualClock(), logger: quietLogger)
        router.connect(to: next)
        let task = Task { try await router.run() }
        defer { task.cancel() }
        router.send([event(.spoolDropped, .warn, time: clock.nowNanos())])
        clocks.advance(seconds: 10)
        clocks.setWall(1_796_078_705)
        clocks.advance(seconds: 1)
        router.send([event(.uplinkState, .info, time: clock.nowNanos())])
        let routed = await next.next(2)
        #expect(routed.map(\.event.name) == [.spoolDropped, .uplinkState], "the held event leaves first")
        let expected: Int64 = (1_796_078_705 - 10) * 1_000_000_000
        #expect(abs(routed[0].event.time - expected) <= 1, "\(routed[0].event.time)")
    }
}
