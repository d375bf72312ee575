import OutpostCore

/// Batches offered to their uplinks straight from memory, before they are written: one that every uplink confirms
/// within `write_after` never reaches the SD card. Pure bookkeeping, owned by the spool service under its lock.
///
/// A staged batch has a negative sequence number, so the delivery loops' marks tell it from a stored one. It is
/// written (for the uplinks still owing it) when its deadline passes while no uplink is sending it, when an uplink
/// defers or rejects it, or at stop.
package struct StagedBatches: Sendable {
    package struct Entry: Sendable {
        package let sequence: Int64
        package let batch: Batch
        /// Monotonic nanoseconds after which it is written.
        package let deadline: Int64
        /// Uplinks that have not confirmed it yet.
        package var owing: Set<String>
        /// Uplinks sending it right now.
        package var sending: Set<String> = []
    }

    private var entries: [Entry] = []
    private var lastSequence: Int64 = 0

    package init() {}

    package var isEmpty: Bool { entries.isEmpty }
    package var count: Int { entries.count }

    package mutating func stage(_ batch: Batch, for uplinks: Set<String>, deadline: Int64) {
        lastSequence -= 1
        entries.append(Entry(sequence: lastSequence, batch: batch, deadline: deadline, owing: uplinks))
    }

    /// The batch `step` puts first among those `uplink` owes and is not sending yet (`DeliveryStep.precedes`, by
    /// creation time; among batches created at once, staging order stands for the stored order).
    package func first(for uplink: String, in step: DeliveryStep) -> SpooledBatch? {
        var best: Entry?
        for entry in entries where entry.owing.contains(uplink) && !entry.sending.contains(uplink)
            && step.admits(entry.batch)
        {
            guard let current = best else {
                best = entry
                continue
            }
            let candidate = (entry.batch.lane, entry.batch.created)
            let leader = (current.batch.lane, current.batch.created)
            // Entries come in staging order: on a tie, the later one is the newer.
            if step.precedes(candidate, leader) || (candidate == leader && step.order == .newestFirst) {
                best = entry
            }
        }
        return best.map { SpooledBatch(sequence: $0.sequence, batch: $0.batch, attempts: 0) }
    }

    /// The batch `plan` sends next to `uplink` from memory alone, marked as being sent.
    package mutating func take(for uplink: String, by plan: DeliveryPlan) -> SpooledBatch? {
        for step in plan.steps {
            if let found = first(for: uplink, in: step), markSending(found.sequence, by: uplink) { return found }
        }
        return nil
    }

    /// `uplink` is sending the staged batch `sequence` now. False when it is no longer staged (written meanwhile).
    package mutating func markSending(_ sequence: Int64, by uplink: String) -> Bool {
        guard let index = entries.firstIndex(where: { $0.sequence == sequence }) else { return false }
        entries[index].sending.insert(uplink)
        return true
    }

    /// `uplink` confirmed the batch: it owes it no more; the batch is gone once nobody does. False when the sequence
    /// is not staged (it was written meanwhile, at stop).
    @discardableResult
    package mutating func confirm(_ sequence: Int64, by uplink: String) -> Bool {
        guard let index = entries.firstIndex(where: { $0.sequence == sequence }) else { return false }
        entries[index].owing.remove(uplink)
        entries[index].sending.remove(uplink)
        if entries[index].owing.isEmpty { entries.remove(at: index) }
        return true
    }

    /// `uplink` could not deliver it now: it stops sending, and the batch is taken out to be written.
    package mutating func release(_ sequence: Int64, by uplink: String) -> Entry? {
        guard let index = entries.firstIndex(where: { $0.sequence == sequence }) else { return nil }
        entries[index].sending.remove(uplink)
        return entries.remove(at: index)
    }

    /// The batch is no longer being sent by `uplink` but stays staged (a test's stand-in for a retry).
    package mutating func stopSendingForTesting(_ sequence: Int64, by uplink: String) {
        guard let index = entries.firstIndex(where: { $0.sequence == sequence }) else { return }
        entries[index].sending.remove(uplink)
    }

    /// The batches to write now: past their deadline and not being sent (all of them when `everything`).
    package mutating func due(now: Int64, everything: Bool = false) -> [Entry] {
        let due = entries.filter { everything || ($0.deadline <= now && $0.sending.isEmpty) }
        let sequences = Set(due.map(\.sequence))
        entries.removeAll { sequences.contains($0.sequence) }
        return due
    }
}
