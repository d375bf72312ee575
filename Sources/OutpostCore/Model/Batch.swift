/// Which queue a batch waits in: alerts go first and are evicted last, metrics go last and are evicted first.
package enum Lane: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case alerts = 0
    case events = 1
    case metrics = 2

    package var description: String {
        switch self {
        case .alerts: "alerts"
        case .events: "events"
        case .metrics: "metrics"
        }
    }

    package static func < (lhs: Lane, rhs: Lane) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One encoded, compressed batch on its way upstream: what the batcher closes, the spool stores and the uplinks
/// send.
package struct Batch: Sendable, Equatable {
    /// The batch id carried in the payload (scope attribute `outpost.batch.id`), so a backend can drop duplicates
    /// after an at-least-once re-send.
    package let id: String
    package let lane: Lane
    /// `metrics` or `logs`: which OTLP export request the payload holds.
    package let signal: String
    /// `application/x-protobuf` or `application/json`.
    package let contentType: String
    /// `gzip` or `identity`.
    package let contentEncoding: String
    /// Unix nanoseconds when the batch was closed.
    package let created: Int64
    /// Data points or log records in the batch.
    package let items: Int
    /// Encoded size before compression.
    package let uncompressedBytes: Int
    package let payload: [UInt8]
    /// Where an uplink should put it, when the batch says so itself (the MQTT topic of one alert). Default "".
    package let routing: String

    /// The signal of a batch holding one alert document for an alert publisher (not OTLP).
    package static let alertSignal = "alert"

    package init(id: String, lane: Lane, signal: String, contentType: String, contentEncoding: String,
                created: Int64, items: Int, uncompressedBytes: Int, payload: [UInt8], routing: String = "") {
        self.id = id
        self.lane = lane
        self.signal = signal
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.created = created
        self.items = items
        self.uncompressedBytes = uncompressedBytes
        self.payload = payload
        self.routing = routing
    }
}

