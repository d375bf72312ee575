import OutpostCore
import OutpostWire

/// `[batch]`: how samples and events become OTLP batches.
package struct BatchConfiguration: Sendable {
    /// `max_points`, default `1000`: data points (or log records) per batch.
    package var maxPoints = 1000
    /// `max_bytes`, default `"1MiB"`: the largest encoded request before compression; bigger batches are split.
    package var maxBytes = 1 << 20
    /// `max_age`, default `"30s"`: a metrics or events batch closes this long after its first item. Alerts close at
    /// once. This is also the most a crash can lose: what is still in memory, not yet spooled.
    package var maxAge: Duration = .seconds(30)
    /// `encoding`, default `"protobuf"`: `protobuf` (application/x-protobuf) or `json` (OTLP/JSON).
    package var encoding = OTLPEncoding.protobuf
    /// `gzip_level`, default `6`: 1 (fastest) … 9 (smallest); 0 stores batches uncompressed.
    package var gzipLevel: Int32 = 6

    var format: BatchFormat { BatchFormat(encoding: encoding, gzipLevel: gzipLevel, maxBytes: maxBytes) }

    static func read(_ reader: ConfigReader?) -> BatchConfiguration {
        var batch = BatchConfiguration()
        guard let reader else { return batch }
        batch.maxPoints = reader.int("max_points", in: 1...10_000_000, default: batch.maxPoints)
        batch.maxBytes = Int(reader.size("max_bytes", default: Int64(batch.maxBytes)))
        batch.maxAge = reader.positiveDuration("max_age", default: batch.maxAge)
        let encoding = reader.choice("encoding", OTLPEncoding.allCases.map(\.rawValue), default: "protobuf")
        batch.encoding = OTLPEncoding(rawValue: encoding) ?? .protobuf
        batch.gzipLevel = Int32(reader.int("gzip_level", in: 0...9, default: Int(batch.gzipLevel)))
        if batch.maxBytes < 1024 { reader.invalid("max_bytes", "must be at least 1KiB, got \(batch.maxBytes) bytes") }
        reader.finish()
        return batch
    }
}

/// `[spool]`: the durable queue on the gateway.
package struct SpoolConfiguration: Sendable {
    /// `path`, default `"<state_dir>/spool.db"`: the SQLite file (WAL mode, so also `-wal` and `-shm` beside it).
    package var path: String
    /// `max_size`, default the board's `spool_max_size`, else `"64MiB"`: the bound on stored batches; the oldest
    /// metrics go first when it is reached, alerts last. Mind the SD card: the file grows to about this size and
    /// stays there.
    package var maxSize: Int64 = SpoolConfiguration.defaultMaxSize
    static let defaultMaxSize: Int64 = 64 << 20
    /// `[gateway] state_dir`: Outpost's own folder. A damaged or foreign file at `path` is moved aside only when it
    /// lies in it (or carries Outpost's mark); anywhere else Outpost refuses to touch a file it cannot tell is its own.
    package var stateDirectory: String?

    static func read(_ reader: ConfigReader?, stateDirectory: String, board: Board?) -> SpoolConfiguration {
        var spool = SpoolConfiguration(path: stateDirectory + "/spool.db", stateDirectory: stateDirectory)
        spool.maxSize = board?.spoolMaxSize ?? spool.maxSize
        guard let reader else { return spool }
        spool.path = reader.string("path", default: spool.path)
        spool.maxSize = reader.size("max_size", default: spool.maxSize)
        if spool.maxSize < 64 * 1024 { reader.invalid("max_size", "must be at least 64KiB") }
        reader.finish()
        return spool
    }
}

/// `[status]`: the status file and Outpost's own metrics.
package struct StatusConfiguration: Sendable {
    /// `path`, default `"$RUNTIME_DIRECTORY/status.json"` (systemd's RuntimeDirectory, a tmpfs, so the SD card is
    /// not written every few seconds), else `"<state_dir>/status.json"`. Rewritten atomically every `interval`;
    /// `outpost status` reads it.
    package var path: String
    /// `interval`, default `"5s"`.
    package var interval: Duration = .seconds(5)
    /// `self_metrics_interval`, default `"30s"`: how often Outpost samples its own metrics (`outpost.*`) into the
    /// metrics lane; `"0s"` turns them off.
    package var selfMetricsInterval: Duration = .seconds(30)

    static func read(_ reader: ConfigReader?, stateDirectory: String, environment: [String: String])
        -> StatusConfiguration
    {
        let directory = environment["RUNTIME_DIRECTORY"].flatMap { $0.isEmpty ? nil : $0 } ?? stateDirectory
        var status = StatusConfiguration(path: directory + "/status.json")
        guard let reader else { return status }
        status.path = reader.string("path", default: status.path)
        status.interval = reader.positiveDuration("interval", default: status.interval)
        status.selfMetricsInterval = reader.duration("self_metrics_interval", default: status.selfMetricsInterval)
        reader.finish()
        return status
    }
}
