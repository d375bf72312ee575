/// Which queue a batch waits in: alerts go first and are evicted last, metrics go last and are evicted first.
public enum Lane: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case alerts = 0
    case events = 1
    case metrics = 2

    public var description: String {
        switch self {
        case .alerts: "alerts"
        case .events: "events"
        case .metrics: "metrics"
        }
    }

    public static func < (lhs: Lane, rhs: Lane) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One encoded, compressed batch on its way upstream: what the batcher closes, the spool stores and the uplinks
/// send.
public struct Batch: Sendable, Equatable {
    /// The batch id carried in the payload (scope attribute `outpost.batch.id`), so a backend can drop duplicates
    /// after an at-least-once re-send.
    public let id: String
    public let lane: Lane
    /// `metrics` or `logs`: which OTLP export request the payload holds.
    public let signal: String
    /// `application/x-protobuf` or `application/json`.
    public let contentType: String
    /// `gzip` or `identity`.
    public let contentEncoding: String
    /// Unix nanoseconds when the batch was closed.
    public let created: Int64
    /// Data points or log records in the batch.
    public let items: Int
    /// Encoded size before compression.
    public let uncompressedBytes: Int
    public let payload: [UInt8]
    /// Where an uplink should put it, when the batch says so itself (the MQTT topic of one alert). Default "".
    public let routing: String

    public init(id: String, lane: Lane, signal: String, contentType: String, contentEncoding: String,
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

