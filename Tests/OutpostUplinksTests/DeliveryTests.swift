import OutpostCore
import OutpostTestSupport
import OutpostWire
import Testing
@testable import OutpostUplinks

@Suite("OTLP/HTTP configuration from the OpenTelemetry environment")
struct OTLPHTTPConfigurationTests {
    func read(_ entries: [(String, ConfigValue)], environment: [String: String], batchGzipLevel: Int32 = 6)
        -> (OTLPHTTPUplinkConfiguration, [ConfigError])
    {
        let diagnostics = ConfigDiagnostics(file: "t.toml")
        let path = ConfigPath([.key("uplink"), .key("otlp_http")])
        let table = ConfigTable(entries: entries.map { key, value in
            (key: key, node: ConfigNode(value: value, path: path.appending(key), location: nil))
        })
        let reader = ConfigReader(node: ConfigNode(value: .table(table), path: path, location: nil), diagnostics: diagnostics)
        let configuration = OTLPHTTPUplinkConfiguration.read(reader, environment: environment, batchEncoding: .protobuf,
                                                             batchGzipLevel: batchGzipLevel, context: { $0 })
        return (configuration, diagnostics.errors)
    }

    @Test("OTEL_EXPORTER_OTLP_* fill what the file leaves out")
    func environment() {
        let (configuration, errors) = read([], environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318/",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "https://logs.example/ingest",
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=abc%20123,x-tenant=farm",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/ca.pem",
        ])
        #expect(errors.isEmpty)
        #expect(configuration.metricsURL == "https://collector.example:4318/v1/metrics")
        #expect(configuration.logsURL == "https://logs.example/ingest")
        #expect(configuration.headers.map { "\($0.0)=\($0.1)" } == ["api-key=abc 123", "x-tenant=farm"])
        #expect(configuration.timeout == .milliseconds(2500))
        #expect(configuration.encoding == .json)
        #expect(configuration.gzipLevel == 0)
        #expect(configuration.tls.caFile == "/etc/ca.pem")
    }

    @Test("the config file wins over the environment; defaults without either")
    func fileWins() {
        let (configuration, _) = read([("endpoint", .string("http://10.0.0.5:4318")),
                                       ("headers", .table(ConfigTable(entries: [(key: "api-key", node: ConfigNode(
                                           value: .string("from-file"), path: ConfigPath(), location: nil))])))],
                                      environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:4318",
                                                    "OTEL_EXPORTER_OTLP_HEADERS": "api-key=from-env"])
        #expect(configuration.metricsURL == "http://10.0.0.5:4318/v1/metrics")
        #expect(configuration.headers.map { "\($0.0)=\($0.1)" } == ["api-key=from-file"])
        let (defaults, _) = read([], environment: [:])
        #expect(defaults.metricsURL == "http://localhost:4318/v1/metrics")
        #expect(defaults.timeout == .seconds(10))
        #expect(defaults.gzipLevel == 6)
        #expect(read([], environment: [:], batchGzipLevel: 9).0.gzipLevel == 9, "re-encoded at [batch] gzip_level")
        #expect(read([], environment: [:], batchGzipLevel: 0).0.gzipLevel == 6, "[batch] stores raw; gzip still asked")
        #expect(read([("compression", .string("none"))], environment: [:], batchGzipLevel: 9).0.gzipLevel == 0)
        #expect(!defaults.tls.insecureSkipVerify)
        #expect(defaults.delivery.backoff.maximum == .seconds(30),
                "nothing tells an HTTP uplink its receiver is back: it looks at least every 30 s")
    }

    @Test("a URL that is not http(s) is a config error")
    func badURL() {
        let (_, errors) = read([("endpoint", .string("collector:4318"))], environment: [:])
        #expect(errors.first?.message.contains("not an http:// or https:// URL") == true)
    }
}
