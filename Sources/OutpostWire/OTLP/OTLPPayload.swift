import OutpostCore
import SwiftProtobuf

package typealias MetricsRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
package typealias LogsRequest = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest

/// Why a spooled batch cannot be read back as OTLP, or not split to a size.
package enum OTLPPayloadError: Error, Equatable, CustomStringConvertible {
    /// The batch holds an alert document, which is JSON but not OTLP.
    case notOTLP(Signal)

    package var description: String {
        switch self {
        case .notOTLP(let signal): "a batch of signal `\(signal.rawValue)` is not an OTLP request"
        }
    }
}

/// One OTLP export request read back from a spooled batch: the one place where a payload is decoded (once), split
/// and encoded again, for whoever needs it in another shape (the MQTT uplink's pieces under a broker's packet limit,
/// the OTLP/HTTP uplink's encoding and compression, `outpost spool inspect`).
package enum OTLPPayload: Sendable, Equatable {
    case metrics(MetricsRequest)
    case logs(LogsRequest)

    /// Decodes `batch`: decompresses it (gzip, zstd), then reads protobuf or OTLP/JSON as its format says.
    package init(_ batch: Batch) throws {
        guard let encoding = batch.format.otlpEncoding else { throw OTLPPayloadError.notOTLP(batch.signal) }
        let bytes = try batch.uncompressedPayload()
        switch batch.signal {
        case .metrics: self = .metrics(try Self.decode(bytes, as: encoding))
        case .logs: self = .logs(try Self.decode(bytes, as: encoding))
        case .alert: throw OTLPPayloadError.notOTLP(batch.signal)
        }
    }

    private static func decode<Request: SwiftProtobuf.Message>(_ bytes: [UInt8], as encoding: OTLPEncoding) throws
        -> Request
    {
        switch encoding {
        case .protobuf: try Request(serializedBytes: bytes)
        case .json: try Request(jsonUTF8Bytes: bytes)
        }
    }

    package var signal: Signal {
        switch self {
        case .metrics: .metrics
        case .logs: .logs
        }
    }

    /// Data points (metrics) or log records (logs): what a split moves whole.
    package var itemCount: Int {
        switch self {
        case .metrics(let request): request.pointCount
        case .logs(let request): request.recordCount
        }
    }

    /// The request with only the items numbered `range` (counted across the whole request), each kept with its
    /// resource, scope and metric: a complete request on its own.
    package func items(_ range: Range<Int>) -> OTLPPayload {
        switch self {
        case .metrics(let request): .metrics(request.points(range))
        case .logs(let request): .logs(request.records(range))
        }
    }

    /// The request as `encoding`, gzip-compressed at `gzipLevel` (1 fastest … 9 smallest; 0 leaves it uncompressed).
    package func encoded(as encoding: OTLPEncoding, gzipLevel: Int32) throws -> [UInt8] {
        try encoded(as: encoding, compression: gzipLevel > 0 ? .gzip(level: gzipLevel) : .none)
    }

    /// The request as `encoding`, compressed as `compression` says.
    package func encoded(as encoding: OTLPEncoding, compression: PayloadCompression) throws -> [UInt8] {
        let bytes = switch self {
        case .metrics(let request): try OTLPEncoder.serialize(request, as: encoding)
        case .logs(let request): try OTLPEncoder.serialize(request, as: encoding)
        }
        return try compression.compress(bytes)
    }

    /// The request encoded (as `encoded(as:gzipLevel:)`) in pieces of at most `limit` bytes each, in order: halved by
    /// whole data points or log records until every piece fits, so nothing is truncated and each piece is a complete
    /// request. A single item that does not fit even alone is left out and listed in `dropped` (what it is, and its
    /// size alone), so one oversized point never costs the healthy ones beside it.
    ///
    /// A request that fits is one piece under `batchID`. Split, each piece carries `<batchID>#<first>-<end>` (its
    /// items' numbers in the whole request) as its `outpost.batch.id`: a backend that drops repeats by that id keeps
    /// every piece, and still drops a piece sent twice (a re-send under the same limit splits the same way).
    package func pieces(limit: Int, as encoding: OTLPEncoding, gzipLevel: Int32, batchID: String) throws
        -> OTLPSplit
    {
        try pieces(limit: limit, as: encoding, compression: gzipLevel > 0 ? .gzip(level: gzipLevel) : .none,
                   batchID: batchID)
    }

    /// `pieces(limit:as:gzipLevel:batchID:)`, compressed as `compression` says.
    package func pieces(limit: Int, as encoding: OTLPEncoding, compression: PayloadCompression, batchID: String)
        throws -> OTLPSplit
    {
        let bytes = try encoded(as: encoding, compression: compression)
        if bytes.count <= limit { return OTLPSplit(pieces: [OTLPPiece(batchID: batchID, bytes: bytes)]) }
        var split = OTLPSplit()
        try self.split(limit: limit, as: encoding, compression: compression, batchID: batchID, offset: 0,
                       bytes: bytes.count, into: &split)
        return split
    }

    private func split(limit: Int, as encoding: OTLPEncoding, compression: PayloadCompression, batchID: String,
                       offset: Int, bytes: Int, into split: inout OTLPSplit) throws {
        let count = itemCount
        guard count > 1 else {
            split.dropped.append(OTLPDroppedItem(index: offset, what: itemDescription, bytes: bytes))
            return
        }
        for half in [0..<count / 2, count / 2..<count] {
            let part = items(half)
            let id = "\(batchID)#\(offset + half.lowerBound)-\(offset + half.upperBound)"
            let encoded = try part.labelled(batchID: id).encoded(as: encoding, compression: compression)
            if encoded.count <= limit {
                split.pieces.append(OTLPPiece(batchID: id, bytes: encoded))
            } else {
                try part.split(limit: limit, as: encoding, compression: compression, batchID: batchID,
                               offset: offset + half.lowerBound, bytes: encoded.count, into: &split)
            }
        }
    }

    /// What the request's first item is, for a report: `data point of <metric> {attributes}` or
    /// `log record <event name>`, device-made text shortened.
    package var itemDescription: String {
        switch self {
        case .metrics(let request):
            guard let metric = request.resourceMetrics.first?.scopeMetrics.first?.metrics.first else {
                return "a point"
            }
            let attributes = metric.firstPointAttributes.map { "\($0.key)=\($0.value.stringValue.prefix(24))" }
            return "data point of `\(metric.name.prefix(120))`"
                + (attributes.isEmpty ? "" : " {\(attributes.joined(separator: ", ").prefix(160))}")
        case .logs(let request):
            guard let record = request.resourceLogs.first?.scopeLogs.first?.logRecords.first else { return "a record" }
            return "log record `\(record.eventName.isEmpty ? "(no event name)" : String(record.eventName.prefix(80)))`"
        }
    }

    /// The request with `batchID` as every scope's `outpost.batch.id` (the scope's only attribute, as encoded).
    package func labelled(batchID: String) -> OTLPPayload {
        let attributes = OTLPEncoder.scopeAttributes(batchID: batchID)
        switch self {
        case .metrics(var request):
            for r in request.resourceMetrics.indices {
                for s in request.resourceMetrics[r].scopeMetrics.indices {
                    request.resourceMetrics[r].scopeMetrics[s].scope.attributes = attributes
                }
            }
            return .metrics(request)
        case .logs(var request):
            for r in request.resourceLogs.indices {
                for s in request.resourceLogs[r].scopeLogs.indices {
                    request.resourceLogs[r].scopeLogs[s].scope.attributes = attributes
                }
            }
            return .logs(request)
        }
    }
}

/// A spooled batch cut to a size: the pieces to send, and the items that cannot fit even alone.
package struct OTLPSplit: Sendable, Equatable {
    package var pieces: [OTLPPiece] = []
    package var dropped: [OTLPDroppedItem] = []

    package init(pieces: [OTLPPiece] = [], dropped: [OTLPDroppedItem] = []) {
        self.pieces = pieces
        self.dropped = dropped
    }

    /// One report line for the dropped items: the first named, the sizes, the limit.
    package func droppedReason(limit: Int, what limitName: String) -> String? {
        guard let first = dropped.first else { return nil }
        let others = dropped.count > 1 ? " and \(dropped.count - 1) more" : ""
        return "\(first.what) (\(first.bytes) bytes even alone)\(others) cannot fit \(limitName) of \(limit) bytes; "
            + "dropped, the rest of the batch sent"
    }
}

/// An item left out of a split because it alone is larger than the limit.
package struct OTLPDroppedItem: Sendable, Equatable {
    /// Its number in the whole request.
    package let index: Int
    package let what: String
    /// Its size as a request of its own, encoded and compressed as it would be sent.
    package let bytes: Int

    package init(index: Int, what: String, bytes: Int) {
        self.index = index
        self.what = what
        self.bytes = bytes
    }
}

/// One piece of a spooled batch as sent: its payload, and the batch id it carries inside and beside it.
package struct OTLPPiece: Sendable, Equatable {
    package let batchID: String
    package let bytes: [UInt8]

    package init(batchID: String, bytes: [UInt8]) {
        self.batchID = batchID
        self.bytes = bytes
    }
}

extension Batch {
    /// The payload as encoded, decompressed when the batch is compressed (gzip or zstd).
    package func uncompressedPayload() throws -> [UInt8] {
        try PayloadCompression.decompress(payload, from: contentEncoding)
    }
}

/// Keeps the items of `items` whose running index (counted across the whole request) is in `range`.
private func select<Item>(_ items: [Item], from index: inout Int, in range: Range<Int>) -> [Item] {
    defer { index += items.count }
    let start = index
    return items.enumerated().filter { range.contains(start + $0.offset) }.map(\.element)
}

extension MetricsRequest {
    var pointCount: Int {
        resourceMetrics.reduce(0) { total, resource in
            total + resource.scopeMetrics.reduce(0) { $0 + $1.metrics.reduce(0) { $0 + $1.pointCount } }
        }
    }

    /// The request with only the data points numbered `range`; emptied metrics, scopes and resources left out.
    func points(_ range: Range<Int>) -> MetricsRequest {
        var index = 0
        var result = self
        result.resourceMetrics = resourceMetrics.compactMap { resource in
            var resource = resource
            resource.scopeMetrics = resource.scopeMetrics.compactMap { scope in
                var scope = scope
                scope.metrics = scope.metrics.compactMap { $0.points(from: &index, in: range) }
                return scope.metrics.isEmpty ? nil : scope
            }
            return resource.scopeMetrics.isEmpty ? nil : resource
        }
        return result
    }
}

extension Opentelemetry_Proto_Metrics_V1_Metric {
    /// The attributes of the metric's first data point.
    var firstPointAttributes: [Opentelemetry_Proto_Common_V1_KeyValue] {
        switch data {
        case .gauge(let gauge): gauge.dataPoints.first?.attributes ?? []
        case .sum(let sum): sum.dataPoints.first?.attributes ?? []
        default: []
        }
    }

    /// Outpost writes gauges and sums; any other kind moves as one item.
    var pointCount: Int {
        switch data {
        case .gauge(let gauge): gauge.dataPoints.count
        case .sum(let sum): sum.dataPoints.count
        default: 1
        }
    }

    func points(from index: inout Int, in range: Range<Int>) -> Self? {
        var metric = self
        switch data {
        case .gauge(var gauge):
            gauge.dataPoints = select(gauge.dataPoints, from: &index, in: range)
            metric.gauge = gauge
        case .sum(var sum):
            sum.dataPoints = select(sum.dataPoints, from: &index, in: range)
            metric.sum = sum
        default:
            defer { index += 1 }
            return range.contains(index) ? metric : nil
        }
        return metric.pointCount == 0 ? nil : metric
    }
}

extension LogsRequest {
    var recordCount: Int {
        resourceLogs.reduce(0) { $0 + $1.scopeLogs.reduce(0) { $0 + $1.logRecords.count } }
    }

    /// The request with only the log records numbered `range`; emptied scopes and resources left out.
    func records(_ range: Range<Int>) -> LogsRequest {
        var index = 0
        var result = self
        result.resourceLogs = resourceLogs.compactMap { resource in
            var resource = resource
            resource.scopeLogs = resource.scopeLogs.compactMap { scope in
                var scope = scope
                scope.logRecords = select(scope.logRecords, from: &index, in: range)
                return scope.logRecords.isEmpty ? nil : scope
            }
            return resource.scopeLogs.isEmpty ? nil : resource
        }
        return result
    }
}
