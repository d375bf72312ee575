import OutpostCore
import SwiftProtobuf

/// Splits a spooled batch into pieces that each fit a size limit (an MQTT broker's maximum packet size): whole
/// data points and log records move, nothing is truncated, and every piece is a complete OTLP request with its
/// resource and scope.
package enum BatchSplitter {
    package enum SplitError: Error, Equatable, CustomStringConvertible {
        /// One data point or log record alone is larger than the limit.
        case itemTooLarge(limit: Int)

        package var description: String {
            switch self {
            case .itemTooLarge(let limit): "a single data point or log record is larger than \(limit) bytes"
            }
        }
    }

    /// Payloads (same encoding and compression as the batch) of at most `limit` bytes each, in order.
    package static func pieces(of batch: Batch, limit: Int) throws -> [[UInt8]] {
        guard batch.payload.count > limit else { return [batch.payload] }
        let gzip = batch.contentEncoding == "gzip"
        let json = batch.contentType == OTLPEncoding.json.contentType
        let raw = gzip ? try Gzip.decompress(batch.payload) : batch.payload
        let encode: (any SwiftProtobuf.Message) throws -> [UInt8] = { message in
            let bytes = try OTLPEncoder.serialize(message, as: json ? .json : .protobuf)
            return gzip ? try Gzip.compress(bytes, level: 6) : bytes
        }
        if batch.signal == "metrics" {
            let request = json ? try MetricsRequest(jsonUTF8Bytes: raw) : try MetricsRequest(serializedBytes: raw)
            return try fit(request, limit: limit, count: \.pointCount, take: { $0.points($1) }, encode: encode)
        }
        let request = json ? try LogsRequest(jsonUTF8Bytes: raw) : try LogsRequest(serializedBytes: raw)
        return try fit(request, limit: limit, count: \.recordCount, take: { $0.records($1) }, encode: encode)
    }

    /// Halves the request until every half encodes within `limit`.
    private static func fit<Request>(_ request: Request, limit: Int, count: (Request) -> Int,
                                     take: (Request, Range<Int>) -> Request,
                                     encode: (any SwiftProtobuf.Message) throws -> [UInt8]) throws -> [[UInt8]]
        where Request: SwiftProtobuf.Message
    {
        let bytes = try encode(request)
        if bytes.count <= limit { return [bytes] }
        let total = count(request)
        guard total > 1 else { throw SplitError.itemTooLarge(limit: limit) }
        let halves = [take(request, 0..<total / 2), take(request, total / 2..<total)]
        return try halves.flatMap { try fit($0, limit: limit, count: count, take: take, encode: encode) }
    }
}

typealias MetricsRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
typealias LogsRequest = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest

/// Keeps the items of `items` whose running index (counted across the whole request) is in `range`.
private func select<Item>(_ items: [Item], from index: inout Int, in range: Range<Int>) -> [Item] {
    defer { index += items.count }
    let start = index
    return items.enumerated().filter { range.contains(start + $0.offset) }.map(\.element)
}

extension MetricsRequest {
    var pointCount: Int {
        resourceMetrics.reduce(0) { $0 + $1.scopeMetrics.reduce(0) { $0 + $1.metrics.reduce(0) { $0 + $1.pointCount } } }
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
