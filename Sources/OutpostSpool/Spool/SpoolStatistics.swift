import OutpostCore

/// A batch as the spool holds it: with its place in line and its delivery history for one uplink.
public struct SpooledBatch: Sendable {
    public let sequence: Int64
    public let batch: Batch
    public let attempts: Int
}

/// What the spool holds and has dropped, per lane.
public struct SpoolStatistics: Sendable, Equatable {
    public struct LaneTotals: Sendable, Equatable {
        public var batches = 0
        public var items = 0
        public var bytes = 0
        /// Unix nanoseconds of the oldest batch, if any.
        public var oldest: Int64?
        public var droppedBatches = 0
        public var droppedItems = 0
        public var droppedBytes = 0

        public init() {}
    }

    public var lanes: [Lane: LaneTotals] = [:]
    /// Bytes the bound counts (payloads plus a fixed per-batch overhead).
    public var accountedBytes = 0
    public var maxBytes = 0

    public init(accountedBytes: Int = 0, maxBytes: Int = 0) {
        self.accountedBytes = accountedBytes
        self.maxBytes = maxBytes
    }

    public subscript(lane: Lane) -> LaneTotals { lanes[lane] ?? LaneTotals() }
}

/// Batches the spool removed to stay within `max_size` (or because they could never fit).
public struct SpoolEviction: Sendable, Equatable {
    public let lane: Lane
    public let batches: Int
    public let items: Int
    public let bytes: Int

    public init(lane: Lane, batches: Int, items: Int, bytes: Int) {
        self.lane = lane
        self.batches = batches
        self.items = items
        self.bytes = bytes
    }
}
