import OutpostCore

/// A batch as the spool holds it: with its place in line and its delivery history for one uplink.
package struct SpooledBatch: Sendable {
    package let sequence: Int64
    package let batch: Batch
    package let attempts: Int

    package init(sequence: Int64, batch: Batch, attempts: Int) {
        self.sequence = sequence
        self.batch = batch
        self.attempts = attempts
    }
}

/// What the spool holds and has dropped, per lane.
package struct SpoolStatistics: Sendable, Equatable {
    package struct LaneTotals: Sendable, Equatable {
        package var batches = 0
        package var items = 0
        package var bytes = 0
        /// Unix nanoseconds of the oldest batch, if any.
        package var oldest: Int64?
        package var droppedBatches = 0
        package var droppedItems = 0
        package var droppedBytes = 0

        package init() {}
    }

    package var lanes: [Lane: LaneTotals] = [:]
    /// What waits for each uplink, per lane: batches and payload bytes it has not delivered yet.
    package var waiting: [String: [Lane: Waiting]] = [:]

    package struct Waiting: Sendable, Equatable {
        package var batches = 0
        package var bytes = 0

        package init(batches: Int = 0, bytes: Int = 0) {
            self.batches = batches
            self.bytes = bytes
        }
    }
    /// Bytes the bound counts (payloads plus a fixed per-batch overhead).
    package var accountedBytes = 0
    package var maxBytes = 0

    package init(accountedBytes: Int = 0, maxBytes: Int = 0) {
        self.accountedBytes = accountedBytes
        self.maxBytes = maxBytes
    }

    package subscript(lane: Lane) -> LaneTotals { lanes[lane] ?? LaneTotals() }
}

/// Batches the spool removed to stay within `max_size` (or because they could never fit).
package struct SpoolEviction: Sendable, Equatable {
    package let lane: Lane
    package let batches: Int
    package let items: Int
    package let bytes: Int

    package init(lane: Lane, batches: Int, items: Int, bytes: Int) {
        self.lane = lane
        self.batches = batches
        self.items = items
        self.bytes = bytes
    }
}
