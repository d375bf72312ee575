import OutpostCore
import OutpostWire

/// `[batch]`: how samples and events become OTLP batches.
package struct BatchConfiguration: Sendable {
    /// `max_points`, default `8192` (the OpenTelemetry Collector batch processor's `send_batch_size`): data points
    /// (or log records) per batch. Larger batches compress better: a series' points sit together under one metric
    /// header (measured: 5.7 B/point gzipped at 5 points per series and batch, 4.8 B at 30).
    package var maxPoints = 8192
    /// `max_bytes`, default `"1MiB"`: the largest encoded request before compression; bigger batches are split.
    package var maxBytes = 1 << 20
    /// `max_bytes` as the config file says it, before the smallest uplink limit lowered `maxBytes`.
    package var configuredMaxBytes = 1 << 20
    /// `max_age`, default `"30s"`: a metrics or events batch closes this long after its first item. Alerts close at
    /// once. This is also the most a crash can lose: what is still in memory, not yet spooled.
    package var maxAge: Duration = .seconds(30)
    /// `encoding`, default `"protobuf"`: `protobuf` (application/x-protobuf) or `json` (OTLP/JSON).
    package var encoding = OTLPEncoding.protobuf
    /// `gzip_level`, default `6`: 1 (fastest) … 9 (smallest); 0 stores batches uncompressed.
    package var gzipLevel: Int32 = 6
    /// `compression`, default `"gzip"`: `gzip`, `zstd` or `none` (the same as `gzip_level = 0`). Measured on our
    /// batches (BENCHMARKS.md) before it was offered: zstd is not the default, because gzip is what every OTLP
    /// receiver takes.
    package var compression = "gzip"
    /// `zstd_level`, default `3` (libzstd's own): 1 (fastest) … 19 (smallest), with `compression = "zstd"`.
    package var zstdLevel: Int32 = Zstd.defaultLevel

    package init() {}

    package var format: BatchFormat {
        BatchFormat(encoding: encoding, gzipLevel: compression == "none" ? 0 : gzipLevel, maxBytes: maxBytes,
                    zstdLevel: compression == "zstd" ? zstdLevel : nil)
    }

    package static func read(_ reader: ConfigReader?) -> BatchConfiguration {
        var batch = BatchConfiguration()
        guard let reader else { return batch }
        batch.maxPoints = reader.int("max_points", in: 1...10_000_000, default: batch.maxPoints)
        batch.maxBytes = Int(reader.size("max_bytes", default: Int64(batch.maxBytes)))
        batch.configuredMaxBytes = batch.maxBytes
        batch.maxAge = reader.positiveDuration("max_age", default: batch.maxAge)
        let encoding = reader.choice("encoding", OTLPEncoding.allCases.map(\.rawValue), default: "protobuf")
        batch.encoding = OTLPEncoding(rawValue: encoding) ?? .protobuf
        batch.gzipLevel = Int32(reader.int("gzip_level", in: 0...9, default: Int(batch.gzipLevel)))
        batch.compression = reader.choice("compression", ["gzip", "zstd", "none"], default: batch.compression)
        batch.zstdLevel = Int32(reader.int("zstd_level", in: 1...19, default: Int(batch.zstdLevel)))
        if batch.maxBytes < 1024 { reader.invalid("max_bytes", "must be at least 1KiB, got \(batch.maxBytes) bytes") }
        reader.finish()
        return batch
    }
}
