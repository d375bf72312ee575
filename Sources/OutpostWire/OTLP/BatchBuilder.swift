import OutpostCore

/// How batches are encoded: OTLP encoding, compression, and the uncompressed size no batch may exceed.
package struct BatchFormat: Sendable, Equatable {
    package var encoding: OTLPEncoding
    /// 1 (fastest) … 9 (smallest); 0 stores the payload uncompressed (`Content-Encoding: identity`).
    package var gzipLevel: Int32
    /// The largest encoded (uncompressed) request: an uplink or broker maximum that must never be exceeded.
    package var maxBytes: Int
    /// Set: zstd at this level instead of gzip (`[batch] compression = "zstd"`).
    package var zstdLevel: Int32?

    package init(encoding: OTLPEncoding = .protobuf, gzipLevel: Int32 = 6, maxBytes: Int = 1 << 20,
                 zstdLevel: Int32? = nil) {
        self.encoding = encoding
        self.gzipLevel = gzipLevel
        self.maxBytes = maxBytes
        self.zstdLevel = zstdLevel
    }

    package var compression: PayloadCompression {
        if let zstdLevel { return .zstd(level: zstdLevel) }
        return gzipLevel > 0 ? .gzip(level: gzipLevel) : .none
    }
}

/// Turns pending samples and events into encoded, compressed `Batch`es, splitting any that would exceed
/// `maxBytes` (never truncating).
package struct BatchBuilder: Sendable {
    package let encoder: OTLPEncoder
    package let format: BatchFormat

    package init(encoder: OTLPEncoder, format: BatchFormat) {
        self.encoder = encoder
        self.format = format
    }

    /// `uplinks`: the uplinks the batches are for (nil: every uplink that takes metrics).
    package func metricsBatches(_ samples: [Sample], lane: Lane = .metrics, now: Int64, uplinks: [String]? = nil,
                               counterStart: @escaping (Series) -> Int64) throws -> [Batch] {
        try split(samples) { part, id in
            try OTLPEncoder.serialize(encoder.metricsRequest(part, batchID: id, counterStart: counterStart),
                                      as: format.encoding)
        }.map { part, id, bytes in
            try batch(id: id, lane: lane, signal: .metrics, items: part.count, bytes: bytes, now: now, uplinks: uplinks)
        }
    }

    /// Batches of an aggregated metrics stream (`OTLPEncoder.aggregateRequest`), for the uplinks in `uplinks`.
    package func aggregateBatches(_ points: [AggregatePoint], now: Int64, uplinks: [String]? = nil) throws -> [Batch] {
        try split(points) { part, id in
            try OTLPEncoder.serialize(encoder.aggregateRequest(part, batchID: id), as: format.encoding)
        }.map { part, id, bytes in
            try batch(id: id, lane: .metrics, signal: .metrics, items: part.count, bytes: bytes, now: now,
                      uplinks: uplinks)
        }
    }

    package func logsBatches(_ events: [Event], lane: Lane, now: Int64) throws -> [Batch] {
        try split(events) { part, id in
            try OTLPEncoder.serialize(encoder.logsRequest(part, batchID: id), as: format.encoding)
        }.map { part, id, bytes in
            try batch(id: id, lane: lane, signal: .logs, items: part.count, bytes: bytes, now: now)
        }
    }

    /// Encodes `items` whole, or in halves (recursively) while the encoding is over `maxBytes`. A single item
    /// over the limit is kept whole: it cannot be split, and dropping it would lose data silently.
    private func split<Item>(_ items: [Item], encode: ([Item], String) throws -> [UInt8]) throws
        -> [([Item], String, [UInt8])]
    {
        guard !items.isEmpty else { return [] }
        let id = Self.newBatchID()
        let bytes = try encode(items, id)
        guard bytes.count > format.maxBytes, items.count > 1 else { return [(items, id, bytes)] }
        let middle = items.count / 2
        return try split(Array(items[..<middle]), encode: encode) + split(Array(items[middle...]), encode: encode)
    }

    private func batch(id: String, lane: Lane, signal: Signal, items: Int, bytes: [UInt8], now: Int64,
                       uplinks: [String]? = nil) throws -> Batch {
        let compression = format.compression
        return Batch(id: id, lane: lane, signal: signal, format: format.encoding.format,
                     contentEncoding: compression.contentEncoding, created: now, items: items,
                     uncompressedBytes: bytes.count, payload: try compression.compress(bytes), uplinks: uplinks)
    }

    /// 128 random bits as 32 hex digits.
    package static func newBatchID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64, low = generator.next() as UInt64
        return hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
