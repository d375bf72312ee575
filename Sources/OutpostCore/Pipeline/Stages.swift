/// The doors between pipeline stages. Each stage takes the next one's door as a value of one of these protocols, so
/// a lower stage never imports a higher one and the runtime only wires doors together.
///
///     inputs ─► ReadingSink ─► detection ─► SampleSink ─────────────────► batcher ─► BatchSink ─► spool
///                                   └────► EventSink ─► event router ─► RoutedEventSink ─┘
///     spool, delivery, clock ─► EventSink (the same one door)

/// What one input read, tagged with the input's place in the configuration.
package struct InputReadings: Sendable {
    package let input: Int
    package let readings: [Reading]

    package init(input: Int, readings: [Reading]) {
        self.input = input
        self.readings = readings
    }
}

/// Where a poll group hands everything its inputs read on one tick, in one call (one channel hop, not one per input).
package protocol ReadingBatchSink: Sendable {
    func accept(_ batch: [InputReadings]) async
}

/// Where detection hands the samples it has seen: the batcher. Suspends while the batcher is behind.
package protocol SampleSink: Sendable {
    func accept(_ samples: [Sample]) async
}

/// An event with the event router's verdict: alerts get a lane of their own and leave at once.
package struct RoutedEvent: Sendable {
    package let event: Event
    package let isAlert: Bool

    package init(_ event: Event, isAlert: Bool) {
        self.event = event
        self.isAlert = isAlert
    }
}

/// Where the event router hands events once the alert filter and the outputs have seen them: the batcher.
package protocol RoutedEventSink: Sendable {
    func accept(_ events: [RoutedEvent]) async
}

/// The one door every event enters by: detection's, the inputs' faults (through detection), the spool's drops, the
/// uplinks' state changes. Never blocks, so a C thread or the spool's own thread may call it.
package protocol EventSink: Sendable {
    func send(_ events: [Event])
}

/// Where closed batches go: the spool. Suspends while the spool writes.
package protocol BatchSink: Sendable {
    func write(_ batches: [Batch]) async
}

/// A wall clock that can tell when it is not to be trusted yet (a Pi booting at 1970 before NTP): it then stamps
/// with negative provisional times, which `resolve` turns into wall-clock times once it is trusted.
package protocol ProvisionalWallClock: WallClock {
    var isTrusted: Bool { get }
    func resolve(_ stamp: Int64) -> Int64?
}
