import OutpostCore
import OutpostDelivery
import OutpostWire

/// `[[uplink.otlp_http]]`: an OTLP/HTTP receiver (an OpenTelemetry Collector, a vendor endpoint).
///
/// Each key falls back to the standard OpenTelemetry exporter variable when absent from the config, then to the
/// default: the file says what the operator meant for this gateway, the environment what the fleet tooling set.
package struct OTLPHTTPUplinkConfiguration: Sendable {
    /// `name`, default `"otlp_http"`: names the uplink in the spool, status and events; unique.
    package var name = "otlp_http"
    /// `metrics_endpoint`: the full URL for metrics. Default `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else
    /// `endpoint` + `/v1/metrics`.
    package var metricsURL: String
    /// `logs_endpoint`: the full URL for events. Default `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, else
    /// `endpoint` + `/v1/logs`.
    package var logsURL: String
    /// `headers`, default `{}`, merged over `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,...`, values percent-decoded).
    package var headers: [(String, String)] = []
    /// `timeout`, default `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds), else `"10s"`: per request.
    package var timeout: Duration = .seconds(10)
    /// `encoding`, default from `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, `http/json`), else `[batch] encoding`.
    package var encoding: OTLPEncoding
    /// `compression`, default `OTEL_EXPORTER_OTLP_COMPRESSION`, else `[batch] compression`: `gzip`, `zstd` or
    /// `none`. A batch re-encoded for this receiver is gzipped at `[batch] gzip_level` (at zlib's default, 6, when
    /// that is 0), or compressed with zstd at `[batch] zstd_level`.
    package var gzipLevel: Int32 = Gzip.defaultLevel
    /// Set when `compression = "zstd"`: its level.
    package var zstdLevel: Int32?

    /// What the request body is compressed with (`Content-Encoding`).
    package var compression: PayloadCompression {
        if let zstdLevel { return .zstd(level: zstdLevel) }
        return gzipLevel > 0 ? .gzip(level: gzipLevel) : .none
    }
    /// `ca_file` (`OTEL_EXPORTER_OTLP_CERTIFICATE`), `client_certificate` (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`),
    /// `client_key` (`OTEL_EXPORTER_OTLP_CLIENT_KEY`), `insecure_skip_verify` (default false: a warning is logged at
    /// start when it is true).
    package var tls = TLSSettings()
    /// `initial_backoff` ("1s"), `max_backoff` ("30s", as the OpenTelemetry Collector's exporters: nothing tells an
    /// HTTP uplink that its receiver is back, so it must look often enough), `max_retry_after` ("1h"), `drain_rate`
    /// (5 batches/s), `live_window` ("1m"), and the metered-link keys (`UplinkHolding.read`, `aggregate`).
    package var delivery = OTLPHTTPUplinkConfiguration.defaultDelivery

    package static var defaultDelivery: DeliverySettings {
        var delivery = DeliverySettings()
        delivery.backoff.maximum = .seconds(30)
        return delivery
    }
    /// `max_batch_bytes`, default none: the receiver's request size limit (before compression); batches are split
    /// to fit it. The Collector's default limit is 20 MiB, far above `[batch] max_bytes`.
    package var maxBatchBytes: Int?

    package static let defaultEndpoint = "http://localhost:4318"

    package static func read(_ reader: ConfigReader, environment: [String: String], batchEncoding: OTLPEncoding,
                            batchGzipLevel: Int32 = Gzip.defaultLevel, batchZstdLevel: Int32 = Zstd.defaultLevel,
                            batchCompression: String = "gzip",
                            context: (String) -> String) -> OTLPHTTPUplinkConfiguration {
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let base = (reader.string("endpoint") ?? env("OTEL_EXPORTER_OTLP_ENDPOINT") ?? defaultEndpoint)
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        var configuration = OTLPHTTPUplinkConfiguration(
            metricsURL: reader.string("metrics_endpoint") ?? env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
                ?? trimmed + "/v1/metrics",
            logsURL: reader.string("logs_endpoint") ?? env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT") ?? trimmed + "/v1/logs",
            encoding: batchEncoding)
        configuration.name = reader.string("name", default: configuration.name)
        for url in [configuration.metricsURL, configuration.logsURL]
        where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            reader.invalid(reader.contains("endpoint") ? "endpoint" : "metrics_endpoint",
                           "`\(url)` is not an http:// or https:// URL")
        }
        configuration.headers = KeyValueList.parse(env("OTEL_EXPORTER_OTLP_HEADERS") ?? "").map { ($0.key, $0.value) }
        for (key, value) in reader.stringMap("headers") {
            configuration.headers.removeAll { $0.0.lowercased() == key.lowercased() }
            configuration.headers.append((key, value))
        }
        let envTimeout = env("OTEL_EXPORTER_OTLP_TIMEOUT").flatMap(Int64.init).map { Duration.milliseconds($0) }
        configuration.timeout = reader.positiveDuration("timeout", default: envTimeout ?? .seconds(10))
        let envProtocol = env("OTEL_EXPORTER_OTLP_PROTOCOL").map { $0 == "http/json" ? "json" : "protobuf" }
        let encoding = reader.choice("encoding", OTLPEncoding.allCases.map(\.rawValue),
                                     default: envProtocol ?? batchEncoding.rawValue)
        configuration.encoding = OTLPEncoding(rawValue: encoding) ?? batchEncoding
        let fromEnvironment = env("OTEL_EXPORTER_OTLP_COMPRESSION").flatMap {
            ["gzip", "none", "zstd"].contains($0) ? $0 : nil
        }
        let compression = reader.choice("compression", ["gzip", "zstd", "none"],
                                        default: fromEnvironment ?? batchCompression)
        configuration.gzipLevel = compression == "gzip" ? Gzip.level(whenCompressing: batchGzipLevel) : 0
        configuration.zstdLevel = compression == "zstd" ? batchZstdLevel : nil
        configuration.tls.caFile = (reader.string("ca_file") ?? env("OTEL_EXPORTER_OTLP_CERTIFICATE")).map(context)
        configuration.tls.clientCertificate = (reader.string("client_certificate")
            ?? env("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE")).map(context)
        configuration.tls.clientKey = (reader.string("client_key") ?? env("OTEL_EXPORTER_OTLP_CLIENT_KEY")).map(context)
        configuration.tls.insecureSkipVerify = reader.bool("insecure_skip_verify", default: false)
        configuration.delivery = readDelivery(reader, defaults: defaultDelivery)
        if reader.contains("max_batch_bytes") {
            configuration.maxBatchBytes = Int(reader.size("max_batch_bytes", default: 0))
            if (configuration.maxBatchBytes ?? 0) < 1024 { reader.invalid("max_batch_bytes", "must be at least 1KiB") }
        }
        reader.finish()
        return configuration
    }

    /// The delivery keys every uplink takes.
    package static func readDelivery(_ reader: ConfigReader, defaults: DeliverySettings = DeliverySettings())
        -> DeliverySettings
    {
        var delivery = defaults
        delivery.backoff.initial = reader.positiveDuration("initial_backoff", default: delivery.backoff.initial)
        delivery.backoff.maximum = reader.positiveDuration("max_backoff", default: delivery.backoff.maximum)
        delivery.backoff.maximumRetryAfter = reader.positiveDuration("max_retry_after",
                                                                     default: delivery.backoff.maximumRetryAfter)
        delivery.drainRate = reader.double("drain_rate", default: delivery.drainRate)
        delivery.liveWindow = reader.positiveDuration("live_window", default: delivery.liveWindow)
        delivery.readMeteredKeys(reader)
        if delivery.drainRate <= 0 { reader.invalid("drain_rate", "must be positive (batches per second)") }
        if delivery.backoff.maximum < delivery.backoff.initial {
            reader.invalid("max_backoff", "must not be shorter than initial_backoff")
        }
        return delivery
    }
}
