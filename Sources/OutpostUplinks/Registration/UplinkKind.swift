import OutpostCore
import OutpostDelivery
import OutpostMQTT
import OutpostWire

/// What an uplink kind may consult while its table is read: values only, no clocks, no clients.
package struct UplinkContext: Sendable {
    package let environment: [String: String]
    /// The spool's encoding (`[batch] encoding`), the default for uplinks that do not choose their own.
    package let batchEncoding: OTLPEncoding
    /// `[batch] gzip_level`: how uplinks compress what they re-encode in the spool's own format (the MQTT uplink's
    /// pieces of a split batch).
    package let batchGzipLevel: Int32
    /// `[batch] zstd_level`: how uplinks that compress with zstd (`compression = "zstd"`) do it.
    package let batchZstdLevel: Int32
    /// `[batch] compression` (`gzip`, `zstd`, `none`): the default of an uplink's own `compression`, so batches go as
    /// spooled unless the uplink says otherwise.
    package let batchCompression: String
    /// The config file's folder, against which relative paths (CA files) resolve.
    package let configDirectory: String
    /// The configured `[mqtt.brokers.<name>]`, for uplinks that publish to one.
    package let mqttBrokers: [String: MQTTBroker]
    package let mqttTopicPrefix: String
    package let gateway: String

    package init(environment: [String: String], batchEncoding: OTLPEncoding, batchGzipLevel: Int32 = Gzip.defaultLevel,
                 batchZstdLevel: Int32 = Zstd.defaultLevel, batchCompression: String = "gzip", configDirectory: String,
                 mqttBrokers: [String: MQTTBroker] = [:], mqttTopicPrefix: String = "outpost", gateway: String = "") {
        self.environment = environment
        self.batchEncoding = batchEncoding
        self.batchGzipLevel = batchGzipLevel
        self.batchZstdLevel = batchZstdLevel
        self.batchCompression = batchCompression
        self.configDirectory = configDirectory
        self.mqttBrokers = mqttBrokers
        self.mqttTopicPrefix = mqttTopicPrefix
        self.gateway = gateway
    }

    package func resolve(_ path: String) -> String {
        ConfigFolder.resolve(path, in: configDirectory)
    }
}

/// What the runtime hands an uplink at start, when it builds the live uplink from its settings.
package struct UplinkResources: Sendable {
    /// One client per broker, created at start and shared with the inputs and the alert publisher.
    package let mqtt: MQTTConnections?
    /// Where an uplink's warnings go (the runtime's log).
    package let warn: @Sendable (String) -> Void

    package init(mqtt: MQTTConnections? = nil, warn: @escaping @Sendable (String) -> Void = { _ in }) {
        self.mqtt = mqtt
        self.warn = warn
    }
}

/// One uplink's configuration as plain values, checked once when the config is read. `makeUplink` builds the live
/// uplink (its libcurl or libmosquitto client) when the runtime starts, never while the config is only read.
package protocol UplinkSettings: Sendable {
    /// The operator's name for it (`[[uplink.<kind>]] name`), which keys the spool's delivery rows.
    var name: String { get }
    /// The signals this kind of uplink takes; the spool gives it only batches of these.
    var accepts: Set<Signal> { get }
    /// Where it sends, for logs and status (no secrets).
    var endpoint: String { get }
    var delivery: DeliverySettings { get }
    /// The largest encoded batch this receiver takes (a broker's maximum packet size, a gateway's body limit), when
    /// it has one: the batcher splits batches to fit the smallest of these and `[batch] max_bytes`.
    var maxBatchBytes: Int? { get }
    /// Things to say once at start (`insecure_skip_verify = true`).
    var startupWarnings: [String] { get }
    func makeUplink(_ resources: UplinkResources) throws -> any Uplink
}

/// A configured uplink: its kind and settings.
package struct ConfiguredUplink: Sendable {
    package let kind: String
    package let settings: any UplinkSettings

    package init(kind: String, settings: any UplinkSettings) {
        self.kind = kind
        self.settings = settings
    }

    package var name: String { settings.name }
    package var endpoint: String { settings.endpoint }
}

/// One uplink kind: its config table name (`[[uplink.<kind>]]`) and how to read its settings from that table.
package protocol UplinkKind {
    static var kind: String { get }
    static func read(_ reader: ConfigReader, context: UplinkContext) -> (any UplinkSettings)?
}
