#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import OutpostBatch
import OutpostCore
import OutpostDelivery
import OutpostSpool
import OutpostDetect
import OutpostInputs
import OutpostMQTT
import OutpostOperations
import OutpostUplinks

/// `[gateway]`: who this gateway is and where it keeps its state.
package struct GatewayConfiguration: Sendable {
    /// `id`, default: the host name. Names the gateway in alerts and exports.
    package var id: String
    /// `state_dir`, default `$STATE_DIRECTORY` (systemd's StateDirectory=), else `/var/lib/outpost` when writable,
    /// else `~/.local/state/outpost`. Holds the spool.
    package var stateDirectory: String
    /// `board`, default none: a name from `outpost boards` (`Boards/<name>.toml`), whose health locations and spool
    /// size become the defaults of `[input.host]` and `[spool] max_size`.
    package var board: Board?
}

/// `[log]`: what Outpost writes to standard error.
package struct LogConfiguration: Sendable {
    /// `level`, default `"info"`: `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
    package var level = "info"
    /// `readings_interval`, default `"1m"`: how often to log the latest value of each series; `"0s"` turns it off.
    package var readingsInterval: Duration = .seconds(60)
    /// `problem_interval`, default `"1m"`: at most one log line per input per interval about skipped bad data
    /// (the rest are counted in the next line).
    package var problemInterval: Duration = .seconds(60)
}

/// `[alerts]`: which events are alerts and where they go.
package struct AlertsConfiguration: Sendable {
    /// `min_severity`, default `"warn"`: events at or above it are alerts (`info`, `warn`, `error`).
    package var minSeverity = Severity.warn
    /// `send_resolved`, default `true`: also publish the event that ends an alert (anomaly resolved, threshold
    /// cleared, device recovered), as Alertmanager's `send_resolved` does.
    package var sendResolved = true
    /// `stdout`, default `true`: write each alert as one JSON line to standard output.
    package var stdout = true
    /// `mqtt_broker`, default none: the `[mqtt.brokers.<name>]` to publish alerts to (one JSON message per alert,
    /// QoS 1). While it is unreachable alerts wait in the spool's alerts lane and go first when it returns.
    package var mqttBroker: String?
    /// `mqtt_topic`, default `"{prefix}/{gateway}/alerts/{severity}/{series}"`; also `{event}`.
    package var mqttTopic = "{prefix}/{gateway}/alerts/{severity}/{series}"
}

/// One configured input: its settings as plain values; the runtime builds the live input at start.
package struct ConfiguredInput: Sendable {
    package let kind: String
    package let settings: any InputSettings
    package let source: SampleSource
    /// Its `report` table (report-on-change for its series), if it has one.
    package var report: ReportConfiguration.Patch? = nil
    /// Where its table starts, for `outpost check`.
    package let location: ConfigLocation?
}

/// The whole validated configuration. Built once before anything runs; any error stops the start.
public struct OutpostConfiguration: Sendable {
    /// The file it came from, or `built-in default`.
    package var origin: String
    package var gateway: GatewayConfiguration
    package var log = LogConfiguration()
    package var alerts = AlertsConfiguration()
    package var detection = DetectionConfiguration()
    /// `[report]`: which series go upstream only when they change (detection still sees every sample).
    package var report = ReportConfiguration()
    package var inputs: [ConfiguredInput] = []
    package var batch = BatchConfiguration()
    package var spool: SpoolConfiguration
    package var status: StatusConfiguration
    /// The OTLP resource attributes (see `ResourceAttributes`).
    package var resource = Attributes()
    /// `[[uplink.<kind>]]`: where spooled batches go. None: the spool keeps everything (bounded by its size).
    package var uplinks: [ConfiguredUplink] = []
    /// `[mqtt]`: brokers by name.
    package var mqtt = MQTTConfiguration()
    /// `[http]`: the local endpoint (off by default).
    package var http = HTTPEndpointConfiguration()
    /// `[opamp]`: remote management (off by default). Always the local file's: see `effective(local:...)`.
    package var opamp = OpAMPConfiguration()
    /// Whether the file has an `[opamp]` table: a remote configuration must not.
    package var setsOpAMP = false
    /// The text it was read from, for OpAMP's effective configuration, and a hash of it (FNV-1a, 64 bits: tells
    /// changes apart, not a security measure).
    package var sourceText = ""
    package var sourceHash: String { FNV1a.hex(Array(sourceText.utf8)) }
    /// `<prefix>/<gateway>/status`: retained `online` while Outpost runs, `offline` as its last will.
    package var mqttStatusTopic: String { "\(mqtt.topicPrefix)/\(gateway.id)/status" }
    /// One client per broker, shared by the alert publisher and the MQTT uplinks.

    /// The clock the inputs stamp samples with, when it checks that the wall clock is synchronised (the real
    /// runtime's); the runtime then holds provisional stamps until it is (see `SampleGate`).
    package var sampleClock: SyncAwareWallClock?

    /// Reads the config in `source`. Every problem is collected and thrown together as `ConfigErrors`.
    /// `requireInputs` false: a file that only tunes detection (`outpost replay --config tuning.toml --input a.csv`,
    /// where `--input` supplies the data) is complete without an input.
    package static func parse(
        _ source: String, file: String, environment: [String: String], sampleClock: SyncAwareWallClock?,
        requireInputs: Bool = true
    ) throws -> OutpostConfiguration {
        try parse(source, file: file, environment: environment, sampleClock: sampleClock,
                  diagnostics: ConfigDiagnostics(file: file), requireInputs: requireInputs)
    }

    static func parse(
        _ source: String, file: String, environment: [String: String], sampleClock: SyncAwareWallClock?,
        diagnostics: ConfigDiagnostics, requireInputs: Bool = true
    ) throws -> OutpostConfiguration {
        guard let root = TOMLDocument.parse(source, file: file, environment: environment, diagnostics: diagnostics)
        else { throw ConfigErrors(diagnostics.errors) }
        let reader = ConfigReader(node: root, diagnostics: diagnostics)
        let gateway = readGateway(reader.table("gateway"), environment: environment)
        var configuration = OutpostConfiguration(
            origin: file, gateway: gateway,
            spool: SpoolConfiguration.read(reader.table("spool"), stateDirectory: gateway.stateDirectory,
                                           boardMaxSize: gateway.board?.spoolMaxSize),
            status: StatusConfiguration.read(reader.table("status"), stateDirectory: gateway.stateDirectory,
                                             environment: environment))
        configuration.log = readLog(reader.table("log"))
        configuration.batch = BatchConfiguration.read(reader.table("batch"))
        configuration.resource = ResourceAttributes.build(gatewayID: gateway.id, configured: reader.stringMap("resource"),
                                                          environment: environment)
        configuration.alerts = readAlerts(reader.table("alerts"))
        configuration.detection = DetectionConfiguration.read(reader.table("detect"))
        configuration.report = ReportConfiguration.read(reader.table("report"))
        configuration.mqtt = MQTTConfiguration.read(reader.table("mqtt"), gateway: gateway.id,
                                                    resolve: { [folder = directory(of: file)] path in
                                                        ConfigFolder.resolve(path, in: folder)
                                                    })
        // Inputs stamp samples with a sync-aware clock when given one (the runtime's); tests stamp with theirs.
        configuration.sampleClock = sampleClock
        let context = InputContext(stateDirectory: gateway.stateDirectory, configDirectory: directory(of: file),
                                   brokers: Set(configuration.mqtt.brokers.keys),
                                   hostDefaults: gateway.board?.host ?? HostBoardDefaults(),
                                   rs485Device: gateway.board?.rs485Device)
        configuration.inputs = readInputs(reader.table("input"), context: context)
        if let broker = configuration.alerts.mqttBroker, configuration.mqtt.brokers[broker] == nil {
            let known = configuration.mqtt.brokers.keys.sorted().joined(separator: ", ")
            diagnostics.report(ConfigError(
                .invalidValue, "no [mqtt.brokers.\(broker)] is configured" + (known.isEmpty ? "" : " (known: \(known))"),
                path: ConfigPath([.key("alerts"), .key("mqtt_broker")]),
                location: locate(root, ["alerts", "mqtt_broker"]) ?? root.location))
        }
        let uplinkContext = UplinkContext(environment: environment, batchEncoding: configuration.batch.encoding,
                                          batchGzipLevel: configuration.batch.format.gzipLevel,
                                          batchZstdLevel: configuration.batch.zstdLevel,
                                          batchCompression: configuration.batch.compression,
                                          configDirectory: directory(of: file), mqttBrokers: configuration.mqtt.brokers,
                                          mqttTopicPrefix: configuration.mqtt.topicPrefix, gateway: gateway.id)
        configuration.http = HTTPEndpointConfiguration.read(reader.table("http"))
        configuration.setsOpAMP = reader.contains("opamp")
        configuration.opamp = OpAMPConfiguration.read(reader.table("opamp"),
                                                      resolve: { [folder = directory(of: file)] path in
                                                          ConfigFolder.resolve(path, in: folder)
                                                      })
        configuration.sourceText = source
        let reserved = configuration.alerts.mqttBroker == nil ? [] : [MQTTAlertPublisher.uplinkName]
        configuration.uplinks = readUplinks(reader.table("uplink"), context: uplinkContext, reserved: reserved)
        // One spool feeds every uplink, so a batch must fit the smallest receiver.
        configuration.batch.maxBytes = configuration.uplinks.compactMap(\.settings.maxBatchBytes)
            .reduce(configuration.batch.maxBytes, min)
        reader.finish()
        if requireInputs && configuration.inputs.isEmpty && diagnostics.errors.isEmpty {
            diagnostics.report(ConfigError(
                .missingKey, "no inputs are configured; add at least one [[input.<kind>]] table (kinds: "
                    + InputRegistry.kinds.map { $0.kind }.joined(separator: ", ") + ")",
                path: ConfigPath([.key("input")]), location: root.location))
        }
        try diagnostics.throwIfAny()
        return configuration
    }

    /// Reads and parses the config file at `path`.
    package static func load(path: String, environment: [String: String], sampleClock: SyncAwareWallClock?,
                             requireInputs: Bool = true) throws -> OutpostConfiguration
    {
        let text: String
        do {
            text = try SystemFiles.read(path, limit: TOMLParser.maximumFileSize + 1)
        } catch {
            throw ConfigErrors([ConfigError(.unreadableFile, "\(error); pass an existing file with --config",
                                            path: nil, location: nil)])
        }
        return try parse(text, file: path, environment: environment, sampleClock: sampleClock,
                         requireInputs: requireInputs)
    }

    /// `parse` with the real sync-aware clock for the samples.
    public static func parse(_ source: String, file: String, environment: [String: String]) throws
        -> OutpostConfiguration
    {
        try parse(source, file: file, environment: environment, sampleClock: SyncAwareWallClock())
    }

    /// `load` with the real sync-aware clock for the samples.
    public static func load(path: String, environment: [String: String]) throws -> OutpostConfiguration {
        try load(path: path, environment: environment, sampleClock: SyncAwareWallClock())
    }

    private static func readGateway(_ reader: ConfigReader?, environment: [String: String]) -> GatewayConfiguration {
        let defaultState = defaultStateDirectory(environment: environment)
        var gateway = GatewayConfiguration(id: reader?.string("id", default: hostName()) ?? hostName(),
                                           stateDirectory: reader?.string("state_dir", default: defaultState) ?? defaultState)
        if gateway.id.isEmpty { reader?.invalid("id", "must not be empty") }
        if let problem = topicProblem(gateway.id) { reader?.invalid("id", problem + " (it is part of MQTT topics)") }
        if let name = reader?.string("board") {
            gateway.board = BoardCatalog.named(name)
            if gateway.board == nil {
                let known = BoardCatalog.all.map(\.name).joined(separator: ", ")
                reader?.invalid("board", "unknown board `\(name)`; `outpost boards` lists them: \(known)")
            }
        }
        reader?.finish()
        return gateway
    }

    /// `$STATE_DIRECTORY` (systemd's StateDirectory=), else `/var/lib/outpost` when this user may create or write
    /// it, else `$HOME/.local/state/outpost`, so the demo runs as an ordinary user too.
    static func defaultStateDirectory(environment: [String: String]) -> String {
        if let directory = environment["STATE_DIRECTORY"], !directory.isEmpty {
            return String(directory.split(separator: ":").first ?? Substring(directory))
        }
        let system = "/var/lib/outpost"
        if access(system, W_OK) == 0 || (access(system, F_OK) != 0 && access("/var/lib", W_OK) == 0) { return system }
        return (environment["HOME"] ?? "/tmp") + "/.local/state/outpost"
    }

    private static func readLog(_ reader: ConfigReader?) -> LogConfiguration {
        var log = LogConfiguration()
        guard let reader else { return log }
        log.level = reader.choice("level", ["trace", "debug", "info", "notice", "warning", "error", "critical"],
                                  default: log.level)
        log.readingsInterval = reader.duration("readings_interval", default: log.readingsInterval)
        log.problemInterval = reader.duration("problem_interval", default: log.problemInterval)
        reader.finish()
        return log
    }

    private static func readAlerts(_ reader: ConfigReader?) -> AlertsConfiguration {
        var alerts = AlertsConfiguration()
        guard let reader else { return alerts }
        let severity = reader.choice("min_severity", ["info", "warn", "error"], default: "warn")
        alerts.minSeverity = Severity(name: severity) ?? .warn
        alerts.sendResolved = reader.bool("send_resolved", default: alerts.sendResolved)
        alerts.stdout = reader.bool("stdout", default: alerts.stdout)
        alerts.mqttBroker = reader.string("mqtt_broker")
        alerts.mqttTopic = reader.string("mqtt_topic", default: alerts.mqttTopic)
        if let problem = topicProblem(alerts.mqttTopic) { reader.invalid("mqtt_topic", problem) }
        reader.finish()
        return alerts
    }

    /// `[input]` holds one key per kind; each kind is a table or an array of tables. Keys every input takes
    /// (`enabled`, `detect`, `report`) are read here, the rest by the kind itself.
    private static func readInputs(_ reader: ConfigReader?, context: InputContext) -> [ConfiguredInput] {
        guard let reader else { return [] }
        var inputs: [ConfiguredInput] = []
        for kindName in reader.keys {
            guard let kind = InputRegistry.kind(named: kindName) else { continue }
            for table in reader.tables(kindName) {
                let enabled = table.bool("enabled", default: true)
                let patch = table.table("detect").map { detect in
                    let patch = DetectionPatch.read(detect)
                    detect.finish()
                    return patch
                }
                let report = table.table("report").map { report in
                    let patch = ReportConfiguration.Patch.read(report)
                    report.finish()
                    return patch
                }
                guard let settings = kind.read(table, context: context), enabled else { continue }
                // An input that reports silence per device (Modbus) is not also watched series by series.
                let staleInterval = settings.deviceSilence == nil ? settings.expectedInterval : nil
                inputs.append(ConfiguredInput(kind: kindName, settings: settings,
                                              source: SampleSource(patch: patch, interval: staleInterval),
                                              report: report, location: table.node.location))
            }
        }
        reader.finish()
        // toml++ keeps tables sorted by key; operators expect their inputs in file order.
        return inputs.sorted { ($0.location?.line ?? 0) < ($1.location?.line ?? 0) }
    }

    /// `[uplink]` holds one key per kind; each kind is a table or an array of tables. Names must be unique, also
    /// against the `reserved` names of uplinks the runtime adds itself (the MQTT alert publisher): they key the
    /// spool's delivery rows.
    private static func readUplinks(_ reader: ConfigReader?, context: UplinkContext, reserved: [String])
        -> [ConfiguredUplink]
    {
        guard let reader else { return [] }
        var uplinks: [ConfiguredUplink] = []
        for kindName in reader.keys {
            guard let kind = UplinkRegistry.kind(named: kindName) else { continue }
            for table in reader.tables(kindName) {
                guard let settings = kind.read(table, context: context) else { continue }
                if uplinks.contains(where: { $0.name == settings.name }) {
                    table.invalid("name", "`\(settings.name)` names another uplink already; give each a unique name")
                } else if reserved.contains(settings.name) {
                    table.invalid("name", "`\(settings.name)` is the name of the MQTT alert publisher "
                        + "([alerts] mqtt_broker); give this uplink another name")
                }
                uplinks.append(ConfiguredUplink(kind: kindName, settings: settings))
            }
        }
        reader.finish()
        return uplinks
    }

    private static func locate(_ root: ConfigNode, _ keys: [String]) -> ConfigLocation? {
        var node = root
        for key in keys {
            guard case .table(let table) = node.value, let child = table[key] else { return nil }
            node = child
        }
        return node.location
    }

    private static func directory(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return String(file[..<slash])
    }

    /// Why `text` cannot be part of an MQTT topic name (MQTT 5 §4.7.3: no wildcards, no NUL), or nil.
    static func topicProblem(_ text: String) -> String? {
        guard text.unicodeScalars.contains(where: {
            $0 == "+" || $0 == "#" || $0.properties.generalCategory == .control
        }) else { return nil }
        return "must not contain `+`, `#` or control characters, which MQTT topic names cannot hold"
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "outpost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// FNV-1a (Fowler, Noll, Vo), 64 bits: a cheap fingerprint of a configuration's text.
package enum FNV1a {
    package static func hex(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
