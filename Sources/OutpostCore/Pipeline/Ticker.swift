
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
