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

    /// Adds `later` behind what already waits.
    package mutating func append(_ later: [Batch]) {
        batches += later
    }

    /// Puts `earlier` (batches a write just failed to store) back in front, keeping their order.
    package mutating func putBack(_ earlier: [Batch]) {
        batches = earlier + batches
    }

    /// Everything, in order, leaving the queue empty.
    package mutating func takeAll() -> [Batch] {
        defer { batches = [] }
        return batches
    }

    /// Drops what `eviction` chooses until the queue fits `bound` bytes of payload; returns the dropped batches.
    package mutating func trim(to bound: Int, by eviction: EvictionRule) -> [Batch] {
        let chosen = Set(eviction.victims(batches, bound: bound) { $0.payload.count })
        guard !chosen.isEmpty else { return [] }
        let dropped = chosen.sorted().map { batches[$0] }
        batches = batches.indices.filter { !chosen.contains($0) }.map { batches[$0] }
        return dropped
    }
}
