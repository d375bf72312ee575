import OutpostCore
import OutpostDelivery
import OutpostOperations

/// How the running pipeline is, part by part: what `GET /health` answers (200 or 503) and OpAMP reports.
///
/// - An uplink is unhealthy while it backs off after a failure (its receiver is down, refuses, or times out); a
///   starting uplink is healthy, since nothing failed yet.
/// - The spool is unhealthy while batches wait in memory because it cannot be written (a full or failing disk).
/// - An input is unhealthy when it has not produced a sample for three of its intervals (at least 30 s), once it
///   has run that long: a sensor that stopped answering, a command that fails every time, an MQTT device gone quiet.
///   Inputs without an interval (a replay) are always healthy.
enum RuntimeHealth {
    static func assess(_ view: PipelineView.State, counters: PipelineCounters.Snapshot, now: Int64)
        -> ComponentHealth
    {
        var parts: [(name: String, health: ComponentHealth)] = []
        let started = counters.startedAt
        for uplink in view.uplinks.map({ $0.status.withLock { $0 } }) {
            let failing = uplink.phase == .backingOff
            parts.append(("uplink:\(uplink.name)",
                          part(healthy: !failing, error: failing ? uplink.lastError ?? "backing off" : "",
                               started: started, now: now)))
        }
        let waiting = counters.batchesWaitingInMemory
        parts.append(("spool", part(healthy: waiting == 0,
                                    error: waiting == 0 ? "" : "\(waiting) batch(es) wait in memory: "
                                        + (counters.lastSpoolError ?? "the spool cannot be written"),
                                    started: started, now: now)))
        for (input, slot) in zip(view.configuration.inputs, view.inputSlots) {
            let totals = slot < counters.inputs.count ? counters.inputs[slot] : PipelineCounters.InputTotals()
            let silence = silent(interval: input.settings.expectedInterval, lastSample: totals.lastSample,
                                 started: started, now: now)
            parts.append(("input:\(input.kind) \(input.settings.name)",
                          part(healthy: silence == nil, error: silence ?? "", started: started, now: now)))
        }
        return ComponentHealth.aggregate(parts, startTime: started, now: now)
    }

    /// Why the input counts as silent, or nil.
    private static func silent(interval: Duration?, lastSample: Int64?, started: Int64, now: Int64) -> String? {
        guard let interval else { return nil }
        let limit = max(UnixNanos.from(interval) * 3, 30 * 1_000_000_000)
        let since = lastSample ?? started
        guard now - since > limit else { return nil }
        let seconds = Int((now - since) / 1_000_000_000)
        return lastSample == nil ? "no sample since it started \(seconds) s ago" : "no sample for \(seconds) s"
    }

    private static func part(healthy: Bool, error: String, started: Int64, now: Int64) -> ComponentHealth {
        ComponentHealth(healthy: healthy, status: healthy ? .ok : .recoverableError, lastError: error,
                        startTime: started, statusTime: now)
    }
}
