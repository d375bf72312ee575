/// What an input hands to the pipeline: readings and, when a sensor misbehaves, fault events.
package enum Reading: Sendable {
    case sample(Sample)
    case event(Event)
    /// Bad data the input skipped (a malformed row, an unparsable output): logged, rate-limited, never fatal.
    case problem(String)
    /// The input stopped tracking a series it made from what it read (an MQTT device idle for `series_idle`):
    /// detection forgets the series' state too, so names invented by a publisher cannot grow Outpost for good.
    case forgotten(Series)
}

/// Where inputs deliver what they read. The runtime's sink fans out to detection and (later) the batcher.
package protocol ReadingSink: Sendable {
    /// Suspends while the pipeline is behind, so a fast replay cannot flood memory.
    func accept(_ readings: [Reading]) async
}

/// A source of samples: host health, a file, a command, a simulator, a recording.
///
/// `run` returns when the input is done (a finished replay) or when its task is cancelled; it reports bad data
/// as events or log lines and keeps going, so one broken sensor never stops the others.
package protocol Input: Sendable {
    /// The operator's name for this input (`[[input.file]] name`), used in logs and status.
    var name: String { get }
    /// How often the input produces a sample per series, when it is periodic; staleness rules use it.
    var interval: Duration? { get }
    func run(into sink: any ReadingSink) async throws
}

/// Unix time in nanoseconds from the wall clock. Injected so tests and replays decide what "now" is.
package protocol WallClock: Sendable {
    func nowNanos() -> Int64
}
