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
    /// What the payload holds: an OTLP metrics or logs request, or an alert document. Uplinks take batches by it.
    package let signal: Signal
    /// How the payload is written before compression; `.alertJSON` exactly when the signal is `.alert`.
    package let format: PayloadFormat
    package let contentEncoding: ContentEncoding
    /// Unix nanoseconds when the batch was closed.
    package let created: Int64
    /// Data points or log records in the batch.
    package let items: Int
    /// Encoded size before compression.
    package let uncompressedBytes: Int
    package let payload: [UInt8]
    /// Where an uplink should put it, when the batch says so itself (the MQTT topic of one alert). Default "".
    package let routing: String
    /// The uplinks it is for, when not every uplink that takes its signal (an aggregated batch is for the uplinks
    /// that aggregate; the full-resolution one for the others). Nil: all of them. Not stored: once spooled, a batch's
    /// delivery rows say it.
    package let uplinks: [String]?

    package init(id: String, lane: Lane, signal: Signal, format: PayloadFormat, contentEncoding: ContentEncoding,
                created: Int64, items: Int, uncompressedBytes: Int, payload: [UInt8], routing: String = "",
                uplinks: [String]? = nil) {
        self.id = id
        self.lane = lane
        self.signal = signal
        self.format = format
        self.contentEncoding = contentEncoding
        self.created = created
        self.items = items
        self.uncompressedBytes = uncompressedBytes
        self.payload = payload
        self.routing = routing
        self.uplinks = uplinks
    }

    /// The payload's MIME type (`format.contentType`).
    package var contentType: String { format.contentType }
}

