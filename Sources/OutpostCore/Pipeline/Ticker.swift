
/// Sends a tick (the wall-clock time) every `interval` on `clock` until cancelled: the heartbeat of the detection
/// and batcher loops, which then handle time in the same task that owns their state. The interval runs on `clock`
/// (monotonic), so a wall-clock step neither stops the ticks nor bunches them; the wall time only stamps.
package enum Ticker {
    package static func run<C: Clock<Duration>>(every interval: Duration, clock: C, wallClock: any WallClock,
                                        send: (Int64) async -> Void) async {
        while !Task.isCancelled {
            do { try await clock.sleep(for: interval, tolerance: nil) } catch { return }
            await send(wallClock.nowNanos())
        }
    }
}

/// The instants a periodic task runs at: aligned to its start (start, start + interval, ...); when a run overruns,
/// the missed ticks are skipped rather than bunched, so a slow read never floods the pipeline.
package struct TickSchedule<C: Clock<Duration>> {
    package private(set) var next: C.Instant
    package let interval: Duration

    package init(startingAt start: C.Instant, every interval: Duration) {
        self.next = start
        self.interval = interval
    }

    /// The next tick after the one just run, skipping those already past at `now`.
    package mutating func advance(now: C.Instant) -> C.Instant {
        next = next.advanced(by: interval)
        let late = next.duration(to: now)
        if late > .zero { next = next.advanced(by: interval * Int((late / interval).rounded(.up))) }
        return next
    }
}
