import FoundationEssentials
import OutpostCore
import SwiftProtobuf

/// The two OTLP encodings: binary protobuf (`application/x-protobuf`) and OTLP/JSON (`application/json`).
package enum OTLPEncoding: String, Sendable, CaseIterable {
    case protobuf
    case json

    /// How a batch in this encoding is written.
    package var format: PayloadFormat {
        switch self {
        case .protobuf: .otlpProtobuf
        case .json: .otlpJSON
        }
    }

    package var contentType: String { format.contentType }
}

extension PayloadFormat {
    /// The OTLP encoding of a payload in this format; nil for an alert document, which is not OTLP.
    package var otlpEncoding: OTLPEncoding? {
        switch self {
        case .otlpProtobuf: .protobuf
        case .otlpJSON: .json
        case .alertJSON: nil
        }
    }
}

/// Builds OTLP export requests from samples and events (opentelemetry-proto ≥ 1.5, generated code in `Generated/`).
///
/// Shared attributes (gateway, site, host) go on the resource once per request; each data point carries only its
/// series' own attributes, since per-point attributes dominate the encoded size. The batch id rides on the
/// instrumentation scope (`outpost.batch.id`) so a backend can drop a duplicate after an at-least-once re-send.
package struct OTLPEncoder: Sendable {
    package let resource: Attributes
    package let scopeVersion: String

    package init(resource: Attributes, scopeVersion: String = OutpostVersion.current) {
        self.resource = resource
        self.scopeVersion = scopeVersion
    }

    // MARK: metrics

    /// One request for `samples`: one Metric per (name, unit, kind), points in arrival order. Counters become
    /// cumulative monotonic Sums starting at `counterStart(series)`.
    package func metricsRequest(_ samples: [Sample], batchID: String, counterStart: (Series) -> Int64)
        -> Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
    {
        var metrics: [Opentelemetry_Proto_Metrics_V1_Metric] = []
        var positions: [String: Int] = [:]
        for sample in samples {
            let series = sample.series
            let key = series.name + "\u{0}" + series.unit + "\u{0}" + series.kind.rawValue
            let position = positions[key] ?? {
                var metric = Opentelemetry_Proto_Metrics_V1_Metric()
                metric.name = series.name
                metric.unit = series.unit
                if series.kind == .counter {
                    metric.sum.aggregationTemporality = .cumulative
                    metric.sum.isMonotonic = true
                } else {
                    metric.gauge = Opentelemetry_Proto_Metrics_V1_Gauge()
                }
                metrics.append(metric)
                positions[key] = metrics.count - 1
                return metrics.count - 1
            }()
            var point = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
            point.timeUnixNano = UInt64(clamping: sample.time)
            point.asDouble = sample.value
            point.attributes = Self.keyValues(series.attributes)
            if series.kind == .counter {
                point.startTimeUnixNano = UInt64(clamping: counterStart(series))
                metrics[position].sum.dataPoints.append(point)
            } else {
                metrics[position].gauge.dataPoints.append(point)
            }
        }
        var scopeMetrics = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        scopeMetrics.scope = scope(batchID: batchID)
        scopeMetrics.metrics = metrics
        var resourceMetrics = Opentelemetry_Proto_Metrics_V1_ResourceMetrics()
        resourceMetrics.resource.attributes = Self.keyValues(resource)
        resourceMetrics.scopeMetrics = [scopeMetrics]
        var request = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest()
        request.resourceMetrics = [resourceMetrics]
        return request
    }

    /// One request for an aggregated batch: gauges as Summary points (quantile 0 the interval's minimum, 1 its
    /// maximum; count and sum cumulative from the series' start, OTLP metrics data model "Summary"), counters as
    /// cumulative monotonic Sum points with their own start times, plain samples as Gauge points. A Summary keeps the
    /// series' name and unit, so a Collector and the backends behind it (the Prometheus exporter: `name{quantile=
    /// "0"}`, `name{quantile="1"}`, `name_sum`, `name_count`) read it as the same metric.
    package func aggregateRequest(_ points: [AggregatePoint], batchID: String)
        -> Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
    {
        var metrics: [Opentelemetry_Proto_Metrics_V1_Metric] = []
        var positions: [String: Int] = [:]
        for point in points {
            let series = point.series
            let shape = switch point {
            case .summary: "summary"
            case .sum: "sum"
            case .sample: series.kind == .counter ? "sum" : "gauge"
            }
            let key = series.name + "\u{0}" + series.unit + "\u{0}" + shape
            let position = positions[key] ?? {
                var metric = Opentelemetry_Proto_Metrics_V1_Metric()
                metric.name = series.name
                metric.unit = series.unit
                switch shape {
                case "summary": metric.summary = Opentelemetry_Proto_Metrics_V1_Summary()
                case "sum":
                    metric.sum.aggregationTemporality = .cumulative
                    metric.sum.isMonotonic = true
                default: metric.gauge = Opentelemetry_Proto_Metrics_V1_Gauge()
                }
                metrics.append(metric)
                positions[key] = metrics.count - 1
                return metrics.count - 1
            }()
            switch point {
            case .summary(let summary):
                metrics[position].summary.dataPoints.append(Self.summaryPoint(summary))
            case .sum(let sample, let start):
                var number = Self.numberPoint(sample)
                number.startTimeUnixNano = UInt64(clamping: start)
                metrics[position].sum.dataPoints.append(number)
            case .sample(let sample):
                if shape == "sum" {
                    var number = Self.numberPoint(sample)
                    number.startTimeUnixNano = UInt64(clamping: sample.time)
                    metrics[position].sum.dataPoints.append(number)
                } else {
                    metrics[position].gauge.dataPoints.append(Self.numberPoint(sample))
                }
            }
        }
        return request(metrics, batchID: batchID)
    }

    private static func numberPoint(_ sample: Sample) -> Opentelemetry_Proto_Metrics_V1_NumberDataPoint {
        var point = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
        point.timeUnixNano = UInt64(clamping: sample.time)
        point.asDouble = sample.value
        point.attributes = keyValues(sample.series.attributes)
        return point
    }

    private static func summaryPoint(_ summary: IntervalSummary) -> Opentelemetry_Proto_Metrics_V1_SummaryDataPoint {
        var point = Opentelemetry_Proto_Metrics_V1_SummaryDataPoint()
        point.startTimeUnixNano = UInt64(clamping: summary.start)
        point.timeUnixNano = UInt64(clamping: summary.time)
        point.count = summary.count
        point.sum = summary.sum
        point.attributes = keyValues(summary.series.attributes)
        var minimum = Opentelemetry_Proto_Metrics_V1_SummaryDataPoint.ValueAtQuantile()
        minimum.quantile = 0
        minimum.value = summary.min
        var maximum = Opentelemetry_Proto_Metrics_V1_SummaryDataPoint.ValueAtQuantile()
        maximum.quantile = 1
        maximum.value = summary.max
        point.quantileValues = [minimum, maximum]
        return point
    }

    private func request(_ metrics: [Opentelemetry_Proto_Metrics_V1_Metric], batchID: String)
        -> Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
    {
        var scopeMetrics = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        scopeMetrics.scope = scope(batchID: batchID)
        scopeMetrics.metrics = metrics
        var resourceMetrics = Opentelemetry_Proto_Metrics_V1_ResourceMetrics()
        resourceMetrics.resource.attributes = Self.keyValues(resource)
        resourceMetrics.scopeMetrics = [scopeMetrics]
        var request = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest()
        request.resourceMetrics = [resourceMetrics]
        return request
    }

    // MARK: logs

    /// One request for `events`, each a LogRecord with `event_name`, severity, body and attributes.
    package func logsRequest(_ events: [Event], batchID: String)
        -> Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest
    {
        var scopeLogs = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        scopeLogs.scope = scope(batchID: batchID)
        scopeLogs.logRecords = events.map(Self.logRecord)
        var resourceLogs = Opentelemetry_Proto_Logs_V1_ResourceLogs()
        resourceLogs.resource.attributes = Self.keyValues(resource)
        resourceLogs.scopeLogs = [scopeLogs]
        var request = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest()
        request.resourceLogs = [resourceLogs]
        return request
    }

    static func logRecord(_ event: Event) -> Opentelemetry_Proto_Logs_V1_LogRecord {
        var record = Opentelemetry_Proto_Logs_V1_LogRecord()
        record.timeUnixNano = UInt64(clamping: event.time)
        record.observedTimeUnixNano = UInt64(clamping: event.time)
        record.severityNumber = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: event.severity.rawValue) ?? .info
        record.severityText = event.severity.text
        record.eventName = event.name.rawValue
        record.body.stringValue = event.message
        var attributes = event.series?.attributes ?? Attributes()
        for (key, value) in event.attributes.entries { attributes[key] = value }
        record.attributes = keyValues(attributes)
        return record
    }

    // MARK: serialization

    /// The request as bytes in `encoding`. OTLP/JSON follows the OTLP JSON rules: lowerCamelCase field names and
    /// enums as integers (64-bit integers as decimal strings, as proto3 JSON writes them).
    package static func serialize(_ message: some SwiftProtobuf.Message, as encoding: OTLPEncoding) throws -> [UInt8] {
        switch encoding {
        case .protobuf:
            return try message.serializedBytes()
        case .json:
            var options = JSONEncodingOptions()
            options.alwaysPrintEnumsAsInts = true
            return Array(try message.jsonUTF8Data(options: options))
        }
    }

    private func scope(batchID: String) -> Opentelemetry_Proto_Common_V1_InstrumentationScope {
        var scope = Opentelemetry_Proto_Common_V1_InstrumentationScope()
        scope.name = "outpost"
        scope.version = scopeVersion
        scope.attributes = Self.scopeAttributes(batchID: batchID)
        return scope
    }

    /// The instrumentation scope's attributes: the batch id a backend drops repeats by.
    static func scopeAttributes(batchID: String) -> [Opentelemetry_Proto_Common_V1_KeyValue] {
        keyValues(["outpost.batch.id": .string(batchID)])
    }

    static func keyValues(_ attributes: Attributes) -> [Opentelemetry_Proto_Common_V1_KeyValue] {
        attributes.entries.map { key, value in
            var keyValue = Opentelemetry_Proto_Common_V1_KeyValue()
            keyValue.key = key
            switch value {
            case .string(let text): keyValue.value.stringValue = text
            case .int(let number): keyValue.value.intValue = number
            case .double(let number): keyValue.value.doubleValue = number
            case .bool(let flag): keyValue.value.boolValue = flag
            }
            return keyValue
        }
    }
}
