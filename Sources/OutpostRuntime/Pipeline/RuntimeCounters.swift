import OutpostCore
import Synchronization

/// Counts what flows through the runtime, for the status file and the self-metrics. Written by the pipeline
/// stages, read by the status writer; a mutex keeps the snapshot consistent.
final class RuntimeCounters: Sendable {
    struct InputTotals: Sendable {
        var samples = 0
        var problems = 0
        var lastSample: Int64?
    }

    struct Snapshot: Sendable {
        var startedAt: Int64 = 0
        var samplesIngested = 0
        var events = 0
        var alerts = 0
        /// Anomaly episodes the per-series budget (`max_episodes_per_hour`) kept quiet.
        var anomaliesSuppressed = 0
        var batchesSpooled = 0
        var bytesSpooled = 0
        var itemsSpooled = 0
        var spoolWriteErrors = 0
        var lastSpoolError: String?
        /// Batches waiting in memory because the spool could not take them (disk full).
        var batchesWaitingInMemory = 0
        /// Damaged spools moved aside and replaced since start.
        var spoolResets = 0
        /// What a stop could not store (the spool refused writes to the end), lost with the process.
        var batchesLostAtStop = 0
        var itemsLostAtStop = 0
        var inputs: [InputTotals] = []
    }

    private let state: Mutex<Snapshot>
    /// Ticks the detection loop has handled: the systemd watchdog is fed only while this moves.
    private let heartbeats = Atomic<Int>(0)

    init(inputCount: Int, startedAt: Int64) {
        state = Mutex(Snapshot(startedAt: startedAt, inputs: Array(repeating: InputTotals(), count: inputCount)))
    }

    var snapshot: Snapshot { state.withLock { $0 } }

    func heartbeat() {
        heartbeats.add(1, ordering: .relaxed)
    }

    var heartbeatCount: Int { heartbeats.load(ordering: .relaxed) }

    func update(_ change: (inout Snapshot) -> Void) {
        state.withLock { change(&$0) }
    }
}
