import OutpostCore

/// Batches the spool could not write (disk full, I/O error), kept in memory in the order they are to be stored and
/// retried every few seconds. Bounded like the spool itself, by the spool policy's eviction rule.
package struct MemoryQueue: Sendable {
    package private(set) var batches: [Batch] = []
    /// True from the first failed write until one works again: the failure is reported once per run.
    package var failing = false

    package init() {}

    package var isEmpty: Bool { batches.isEmpty }
    package var count: Int { batches.count }

    /// Adds `later` behind what already waits, unbounded (it is taken out at once to be stored).
    package mutating func append(_ later: [Batch]) {
        batches += later
    }

    /// Adds `batch` at the end if the eviction rule admits it under `bound` bytes of payload; returns what was dropped
    /// for it (or `batch` itself).
    package mutating func admit(_ batch: Batch, bound: Int, by eviction: EvictionRule) -> [Batch] {
        let (victims, admitted) = eviction.admit(batch, into: batches, bound: bound) { $0.payload.count }
        guard admitted else { return [batch] }
        let dropped = victims.map { batches[$0] }
        let gone = Set(victims)
        batches = batches.indices.filter { !gone.contains($0) }.map { batches[$0] } + [batch]
        return dropped
    }

    /// Puts `earlier` (batches a write just failed to store) back in front and bounds the whole queue, admitting
    /// every batch again in age order; returns what was dropped.
    package mutating func putBack(_ earlier: [Batch], bound: Int, by eviction: EvictionRule) -> [Batch] {
        let all = earlier + batches
        batches = []
        return all.flatMap { admit($0, bound: bound, by: eviction) }
    }

    /// Everything, in order, leaving the queue empty.
    package mutating func takeAll() -> [Batch] {
        defer { batches = [] }
        return batches
    }
}
