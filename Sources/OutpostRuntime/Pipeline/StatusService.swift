import CMallocTuning
import Logging
import OutpostBatch
import OutpostCore
import OutpostDelivery
import OutpostSpool
import OutpostUplinks
import OutpostWire
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Rewrites the status file every `[status] interval`, atomically (write a temporary file, then rename), so
/// `outpost status` and monitoring scripts never read half a file.
struct StatusService: Service, CustomStringConvertible {
    // One line for ServiceLifecycle's log, not a reflection of every stored property (see `PollGroup`).
    var description: String { "StatusService" }

    /// The running configuration, its inputs' slots and its uplinks, as the last reload left them.
    let view: PipelineView
    let counters: PipelineCounters
    let clock: any Clock<Duration>
    let wallClock: any WallClock
    let logger: Logger
    let failing = FailureLatch()

    /// The status interval and path are the pipeline's (a change restarts it), so they are read once.
    private var configuration: OutpostConfiguration { view.current.configuration }

    func run() async throws {
        let configuration = self.configuration
        try? await cancelWhenGracefulShutdown {
            var sinceTrim = Duration.zero
            while !Task.isCancelled {
                write()
                try await clock.sleep(for: configuration.status.interval, tolerance: nil)
                sinceTrim += configuration.status.interval
                // The status tick is the runtime's housekeeping beat: every 30 s, freed heap goes back to the
                // system (measured at 2,000 series: 16.4 -> 14.1 MiB anonymous memory).
                if sinceTrim >= Self.trimInterval {
                    sinceTrim = .zero
                    outpost_release_free_memory()
                }
            }
        }
        write(stopping: true)
    }

    static let trimInterval: Duration = .seconds(30)

    func write(stopping: Bool = false) {
        let document = StatusDocument.render(view.current, counters: counters.snapshot, now: wallClock.nowNanos(),
                                             state: stopping ? "stopped" : "running")
        let error = AtomicFile.write(document, to: configuration.status.path)
        // Once per run of failures at warning level: a status file nobody can read is worth knowing about, but not
        // worth a log line every few seconds, nor stopping the data.
        if failing.reportChange(failing: error != nil) {
            if let error {
                logger.warning("""
                    cannot write the status file \(configuration.status.path): \(error); `outpost status` shows \
                    stale data until it can. Check [status] path and its folder.
                    """)
            } else {
                logger.notice("the status file \(configuration.status.path) is written again")
            }
        }
    }
}

/// Remembers whether the last attempt failed, so a run of failures is reported once, and its end once.
final class FailureLatch: Sendable {
    private let state = Mutex(false)

    /// Records the outcome; true when it differs from the previous one (the first outcome counts only as a failure).
    func reportChange(failing: Bool) -> Bool {
        state.withLock { wasFailing in
            defer { wasFailing = failing }
            return wasFailing != failing
        }
    }
}

/// Refuses a status path that points at a file Outpost did not write: every rewrite replaces the file, so a config
/// mistake (`path = "/etc/passwd"` as root) would otherwise destroy it.
enum StatusFileGuard {
    static let firstBytes = Array("{\"schema\":\"outpost.status.".utf8)

    static func check(_ path: String) throws(StartupError) {
        if let refusal = OwnedFile.refusal(path) ?? OwnedFile.refusal(path + ".tmp") {
            throw StartupError("[status] path: \(refusal). Outpost refuses to replace it.")
        }
        guard case .regular(let size, _) = OwnedFile.kind(of: path), size > 0 else { return }
        guard let head = OwnedFile.head(path, count: firstBytes.count), head == firstBytes else {
            throw StartupError("""
                [status] path: \(path) exists and is not an Outpost status file; Outpost refuses to replace it. \
                Point [status] path at a new file (default <state_dir>/status.json).
                """)
        }
    }
}

/// The status file's JSON: what `outpost status` shows. Schema `outpost.status.v1`.
enum StatusDocument {
    static func render(_ view: PipelineView.State, counters: PipelineCounters.Snapshot, now: Int64, state: String)
        -> String
    {
        let spool = view.spool
        return render(configuration: view.configuration, inputSlots: view.inputSlots, counters: counters,
                      spool: spool?.statistics.withLock { $0 } ?? SpoolStatistics(),
                      uplinks: view.uplinks.map { $0.status.withLock { $0 } },
                      allowances: spool.map { spool in
                          view.uplinks.map { spool.allowances.status(for: $0.uplink.name, now: now) }
                      } ?? [],
                      now: now, state: state)
    }

    static func render(configuration: OutpostConfiguration, inputSlots: [Int], counters: PipelineCounters.Snapshot,
                       spool: SpoolStatistics, uplinks: [UplinkStatus], allowances: [AllowanceStatus] = [],
                       now: Int64, state: String) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.string("schema", "outpost.status.v1")
        json.string("state", state)
        json.string("version", OutpostVersion.current)
        json.string("gateway", configuration.gateway.id)
        json.string("config", configuration.origin)
        json.string("config_hash", configuration.sourceHash)
        json.integer("pid", Int64(getpid()))
        json.string("updated", RFC3339.format(now))
        json.integer("updated_unix_nano", now)
        json.string("started", RFC3339.format(counters.startedAt))
        json.integer("samples_ingested", Int64(counters.samplesIngested))
        json.integer("events", Int64(counters.events))
        json.integer("alerts", Int64(counters.alerts))
        json.integer("anomalies_suppressed", Int64(counters.anomaliesSuppressed))
        json.beginArray("inputs")
        for (input, slot) in zip(configuration.inputs, inputSlots) {
            let totals = slot < counters.inputs.count ? counters.inputs[slot] : PipelineCounters.InputTotals()
            json.beginObject(nil)
            json.string("kind", input.kind)
            json.string("name", input.settings.name)
            json.integer("samples", Int64(totals.samples))
            json.integer("problems", Int64(totals.problems))
            if let last = totals.lastSample { json.string("last_sample", RFC3339.format(last)) } else { json.null("last_sample") }
            json.endObject()
        }
        json.endArray()
        json.beginObject("spool")
        json.string("path", configuration.spool.path)
        json.integer("size_bytes", Int64(spool.accountedBytes))
        json.integer("max_bytes", Int64(configuration.spool.maxSize))
        json.integer("batches_spooled", Int64(counters.batchesSpooled))
        json.integer("bytes_spooled", Int64(counters.bytesSpooled))
        json.integer("write_errors", Int64(counters.spoolWriteErrors))
        json.integer("batches_waiting_in_memory", Int64(counters.batchesWaitingInMemory))
        json.integer("batches_lost_at_stop", Int64(counters.batchesLostAtStop))
        json.integer("resets", Int64(counters.spoolResets))
        if let error = counters.lastSpoolError { json.string("last_error", error) } else { json.null("last_error") }
        json.beginObject("lanes")
        for lane in Lane.allCases {
            let totals = spool[lane]
            json.beginObject(lane.description)
            json.integer("batches", Int64(totals.batches))
            json.integer("items", Int64(totals.items))
            json.integer("bytes", Int64(totals.bytes))
            if let oldest = totals.oldest {
                json.number("oldest_age_s", UnixNanos.seconds(max(0, now - oldest)))
            } else {
                json.null("oldest_age_s")
            }
            json.integer("dropped_batches", Int64(totals.droppedBatches))
            json.integer("dropped_items", Int64(totals.droppedItems))
            json.endObject()
        }
        json.endObject()
        json.endObject()
        json.beginArray("uplinks")
        for (index, uplink) in uplinks.enumerated() {
            json.beginObject(nil)
            json.string("name", uplink.name)
            json.string("kind", uplink.kind)
            json.string("endpoint", uplink.endpoint)
            json.string("state", uplink.phase.rawValue)
            json.integer("consecutive_failures", Int64(uplink.consecutiveFailures))
            if let error = uplink.lastError { json.string("last_error", error) } else { json.null("last_error") }
            if let last = uplink.lastDelivery { json.string("last_delivery", RFC3339.format(last)) } else {
                json.null("last_delivery")
            }
            if let next = uplink.nextAttempt { json.string("next_attempt", RFC3339.format(next)) } else {
                json.null("next_attempt")
            }
            json.integer("delivered_batches", Int64(uplink.deliveredBatches))
            json.integer("delivered_items", Int64(uplink.deliveredItems))
            json.integer("delivered_bytes", Int64(uplink.deliveredBytes))
            json.integer("retries", Int64(uplink.retries))
            json.integer("rejected_batches", Int64(uplink.rejectedBatches))
            json.integer("dropped_items", Int64(uplink.droppedItems))
            json.integer("wire_bytes", Int64(uplink.wireBytes))
            if index < allowances.count { renderAllowance(allowances[index], &json) }
            let allowance = index < allowances.count ? allowances[index] : nil
            renderWaiting(spool.waiting[uplink.name] ?? [:], held: allowance?.held ?? [:],
                          local: { allowance?.local($0) ?? RFC3339.format($0) }, &json)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.text + "\n"
    }
}

extension StatusDocument {
    /// `metered`, `budgets` (per period: spent, limit, when it began and renews, alerts beyond it), `sync_windows`.
    static func renderAllowance(_ allowance: AllowanceStatus, _ json: inout JSONWriter) {
        json.bool("metered", allowance.metered)
        json.string("time_zone", allowance.zone.name)
        json.beginObject("budgets")
        for budget in allowance.budgets {
            json.beginObject(budget.period.rawValue)
            json.integer("spent_bytes", budget.spent)
            if let limit = budget.limit { json.integer("limit_bytes", limit) } else { json.null("limit_bytes") }
            json.string("period_start", allowance.local(budget.periodStart))
            json.string("renews", allowance.local(budget.renews))
            json.integer("overrun_bytes", budget.overrun)
            json.endObject()
        }
        json.endObject()
        if let window = allowance.window {
            json.beginObject("sync_windows")
            json.string("windows", window.windows)
            json.bool("open", window.open)
            if let next = window.nextChange { json.string("next_change", allowance.local(next)) } else {
                json.null("next_change")
            }
            json.endObject()
        } else {
            json.null("sync_windows")
        }
    }

    /// `waiting`: per lane, the batches and bytes not yet delivered by this uplink, and why a lane is held (null
    /// while it flows).
    static func renderWaiting(_ waiting: [Lane: SpoolStatistics.Waiting], held: [Lane: HoldReason],
                              local: (Int64) -> String, _ json: inout JSONWriter) {
        json.beginObject("waiting")
        for lane in Lane.allCases {
            json.beginObject(lane.description)
            json.integer("batches", Int64(waiting[lane]?.batches ?? 0))
            json.integer("bytes", Int64(waiting[lane]?.bytes ?? 0))
            if let reason = held[lane] { json.string("held", reason.description(local: local)) } else {
                json.null("held")
            }
            json.endObject()
        }
        json.endObject()
    }
}

/// Writes a file so readers see the old or the new content, never a mix: a temporary file, then a rename. No fsync:
/// the status is rewritten every few seconds, and syncing would only wear the SD card.
package enum AtomicFile {
    package static func write(_ text: String, to path: String) -> String? {
        write(bytes: Array(text.utf8), to: path)
    }

    package static func write(bytes: [UInt8], to path: String) -> String? {
        let temporary = path + ".tmp"
        // O_NOFOLLOW: a link planted at the temporary name must not redirect the write to another file.
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard descriptor >= 0 else { return "\(temporary): \(String(cString: strerror(errno)))" }
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == bytes.count else { return "\(temporary): short write" }
        guard rename(temporary, path) == 0 else { return "\(path): \(String(cString: strerror(errno)))" }
        return nil
    }
}
