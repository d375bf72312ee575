import Synchronization

/// Counts what flows through the runtime, for the status file and the self-metrics. Written by the pipeline
/// stages, read by the status writer; a mutex keeps the snapshot consistent.
package final class PipelineCounters: Sendable {
    package struct InputTotals: Sendable {
        package var samples = 0
        package var problems = 0
        package var lastSample: Int64?

        package init() {}
    }

    package struct Snapshot: Sendable {
        package var startedAt: Int64 = 0
        package var samplesIngested = 0
        package var events = 0
        package var alerts = 0
        /// Anomaly episodes the per-series budget (`max_episodes_per_hour`) kept quiet.
        package var anomaliesSuppressed = 0
        package var batchesSpooled = 0
        package var bytesSpooled = 0
        package var itemsSpooled = 0
        package var spoolWriteErrors = 0
        package var lastSpoolError: String?
        /// Batches waiting in memory because the spool could not take them (disk full).
        package var batchesWaitingInMemory = 0
        /// Damaged spools moved aside and replaced since start.
        package var spoolResets = 0
        /// What a stop could not store (the spool refused writes to the end), lost with the process.
        package var batchesLostAtStop = 0
        package var itemsLostAtStop = 0
        /// By input slot: the runtime's number for an input, which a reload never gives to another one.
        package var inputs: [InputTotals] = []
        /// Events routed, by event name (`outpost.anomaly.raised`, ...).
        package var eventsByName: [EventName: Int] = [:]
    }

    private let state: Mutex<Snapshot>
    /// Ticks the detection loop has handled: the systemd watchdog is fed only while this moves.
    private let heartbeats = Atomic<Int>(0)

    package init(inputCount: Int, startedAt: Int64) {
        state = Mutex(Snapshot(startedAt: startedAt, inputs: Array(repeating: InputTotals(), count: inputCount)))
    }

    package var snapshot: Snapshot { state.withLock { $0 } }

    package func heartbeat() {
        heartbeats.add(1, ordering: .relaxed)
    }

    package var heartbeatCount: Int { heartbeats.load(ordering: .relaxed) }

    package func update(_ change: (inout Snapshot) -> Void) {
        state.withLock { change(&$0) }
    }
}
