import Logging
import OutpostCore
import Synchronization

/// Holds readings stamped while the wall clock was not trusted (provisional stamps from `SyncAwareWallClock`) and
/// lets them go, stamped right, once it is. Nothing held reaches detection, the batcher or an uplink, so no 1970
/// timestamp is ever exported and no series looks silent because the clock jumped.
///
/// Each input's readings are held and released in its own order, by its own task. The hold is bounded
/// (`maximumHeldPerInput` readings per input, the oldest dropped and counted), so a clock that never syncs cannot
/// exhaust memory.
package final class SampleGate: Sendable {
    package static let maximumHeldPerInput = 50_000

    private let clock: SyncAwareWallClock
    private let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var held: [[Reading]]
        var dropped = 0
        var announced = false
        var released = false

        /// Room for input slot `index`: a reload adds inputs with new slots while the gate runs.
        mutating func makeRoom(for index: Int) {
            if index >= held.count { held += Array(repeating: [], count: index + 1 - held.count) }
        }
    }

    package init(clock: SyncAwareWallClock, inputCount: Int, logger: Logger) {
        self.clock = clock
        self.logger = logger
        self.state = Mutex(State(held: Array(repeating: [], count: inputCount)))
    }

    /// What input `index` may pass on now: nothing while the clock is doubted, else what it held plus `readings`,
    /// all with wall-clock stamps.
    package func admit(_ readings: [Reading], from index: Int) -> [Reading] {
        let provisional = readings.contains { Self.stamp(of: $0).map { $0 < 0 } ?? false }
        let (waiting, shouldHold) = state.withLock { state in
            state.makeRoom(for: index)
            return (state.held[index], provisional || !state.held[index].isEmpty)
        }
        guard shouldHold else { return readings }
        if !clock.isTrusted {
            hold(readings, from: index)
            return []
        }
        let all = state.withLock { state -> [Reading] in
            defer { state.held[index] = [] }
            return state.held[index] + readings
        }
        announceRelease(count: waiting.count)
        return all.map(resolved)
    }

    private func hold(_ readings: [Reading], from index: Int) {
        let (first, dropped) = state.withLock { state -> (Bool, Int) in
            state.held[index] += readings
            let excess = state.held[index].count - Self.maximumHeldPerInput
            if excess > 0 {
                state.held[index].removeFirst(excess)
                state.dropped += excess
            }
            defer { state.announced = true }
            return (!state.announced, max(0, excess))
        }
        if first {
            logger.notice("""
                the wall clock is not trusted yet (\(clock.doubt?.reason ?? "unsynchronised")): readings are held and \
                stamped on the monotonic clock until it is synchronised, then sent with the right time
                """)
        }
        if dropped > 0 {
            logger.warning("clock still unsynchronised: dropped \(dropped) held reading(s) (bound reached)")
        }
    }

    private func announceRelease(count: Int) {
        let first = state.withLock { state -> Bool in
            defer { state.released = true }
            return !state.released && state.announced
        }
        if first {
            logger.notice("the wall clock is synchronised: held readings are stamped with the right time and sent")
        }
    }

    private func resolved(_ reading: Reading) -> Reading {
        switch reading {
        case .sample(let sample) where sample.time < 0:
            return .sample(Sample(series: sample.series, time: clock.resolve(sample.time) ?? sample.time,
                                  value: sample.value))
        case .event(let event) where event.time < 0:
            return .event(Event(name: event.name, severity: event.severity,
                                time: clock.resolve(event.time) ?? event.time, series: event.series,
                                message: event.message, attributes: event.attributes))
        default:
            return reading
        }
    }

    private static func stamp(of reading: Reading) -> Int64? {
        switch reading {
        case .sample(let sample): return sample.time
        case .event(let event): return event.time
        case .problem, .forgotten: return nil
        }
    }

    /// Readings dropped because the hold was full.
    package var dropped: Int { state.withLock { $0.dropped } }
}
