/// What a batch carries, and so which uplinks take it: an OTLP metrics or logs export request, or one alert document
/// for an alert publisher.
///
/// The raw values are what the spool's `signal` column stores: spool files written by every earlier Outpost hold
/// them, so they never change.
package enum Signal: String, Sendable, CaseIterable {
    /// An OTLP `ExportMetricsServiceRequest`.
    case metrics
    /// An OTLP `ExportLogsServiceRequest`: events, each a log record with `event_name`.
    case logs
    /// One alert JSON document (README, "Events and the alert JSON"), not OTLP: only an alert publisher takes it.
    case alert

    /// What an OTLP receiver takes (an OTLP/HTTP endpoint, an MQTT uplink).
    package static let otlp: Set<Signal> = [.metrics, .logs]
}

/// How a batch's payload is written before compression: the MIME type it travels under, and whether it is OTLP.
///
/// Alert documents are JSON like OTLP/JSON but not OTLP, so they have a format of their own; the spool stores only the
/// MIME type (`content_type`) and tells the two apart by the signal (`init(contentType:signal:)`).
package enum PayloadFormat: Sendable, Equatable, CaseIterable {
    /// An OTLP request as binary protobuf, `application/x-protobuf`.
    case otlpProtobuf
    /// An OTLP request as OTLP/JSON, `application/json`.
    case otlpJSON
    /// One alert document, `application/json`; its signal is always `.alert`.
    case alertJSON

    /// The MIME type: the HTTP `Content-Type`, the MQTT 5 content type, the spool's `content_type` column.
    package var contentType: String {
        switch self {
        case .otlpProtobuf: "application/x-protobuf"
        case .otlpJSON, .alertJSON: "application/json"
        }
    }

    /// The format of what the spool stored as `contentType` for `signal`; nil for a pair no Outpost writes.
    package init?(contentType: String, signal: Signal) {
        let match = Self.allCases.first { format in
            format.contentType == contentType && (format == .alertJSON) == (signal == .alert)
        }
        guard let match else { return nil }
        self = match
    }
}

/// Whether a payload is compressed. The raw values are the HTTP `Content-Encoding` and MQTT `content-encoding`
/// values, and what the spool's `content_encoding` column stores.
package enum ContentEncoding: String, Sendable, CaseIterable {
    case gzip
    /// zstd (RFC 8878): the OpenTelemetry Collector's OTLP/HTTP receiver accepts it. Spools holding it are not read
    /// by an Outpost older than the one that wrote them.
    case zstd
    case identity
}
