import OutpostCore
import OutpostDelivery
import OutpostMQTT
import Synchronization
import OutpostWire

/// What uplinks get from the runtime when they are made.
package struct UplinkContext: Sendable {
    package let environment: [String: String]
    /// The spool's encoding (`[batch] encoding`), the default for uplinks that do not choose their own.
    package let batchEncoding: OTLPEncoding
    /// `[batch] gzip_level`: how uplinks compress what they re-encode in the spool's own format (the MQTT uplink's
    /// pieces of a split batch).
    package let batchGzipLevel: Int32
    /// The config file's folder, against which relative paths (CA files) resolve.
    package let configDirectory: String
    package let wallClock: any WallClock
    /// Where an uplink's warnings go (the runtime's log).
    package let warn: @Sendable (String) -> Void
    /// The configured MQTT brokers, for uplinks that publish to one.
    package let mqtt: MQTTConnections?
    package let mqttTopicPrefix: String
    package let gateway: String

    package init(environment: [String: String], batchEncoding: OTLPEncoding, batchGzipLevel: Int32 = Gzip.defaultLevel,
                configDirectory: String, wallClock: any WallClock, mqtt: MQTTConnections? = nil,
                mqttTopicPrefix: String = "outpost", gateway: String = "", warn: @escaping @Sendable (String) -> Void) {
        self.mqtt = mqtt
        self.mqttTopicPrefix = mqttTopicPrefix
        self.gateway = gateway
        self.environment = environment
        self.batchEncoding = batchEncoding
        self.batchGzipLevel = batchGzipLevel
        self.configDirectory = configDirectory
        self.wallClock = wallClock
        self.warn = warn
    }

    package func resolve(_ path: String) -> String {
        path.hasPrefix("/") || configDirectory.isEmpty ? path : configDirectory + "/" + path
    }
}

/// A configured uplink, ready for a delivery loop.
package struct ConfiguredUplink: Sendable {
    package let kind: String
    package let uplink: any Uplink
    /// Where it sends, for logs and status (no secrets).
    package let endpoint: String
    package let delivery: DeliverySettings
    /// The largest encoded batch this receiver takes (a broker's maximum packet size, a gateway's body limit), when
    /// it has one: the batcher splits batches to fit the smallest of these and `[batch] max_bytes`.
    package let maxBatchBytes: Int?
    /// Things to say once at start (`insecure_skip_verify = true`).
    package let startupWarnings: [String]

    package init(kind: String, uplink: any Uplink, endpoint: String, delivery: DeliverySettings,
                maxBatchBytes: Int? = nil, startupWarnings: [String] = []) {
        self.kind = kind
        self.uplink = uplink
        self.endpoint = endpoint
        self.delivery = delivery
        self.maxBatchBytes = maxBatchBytes
        self.startupWarnings = startupWarnings
    }
}

/// One uplink kind: its config table name (`[[uplink.<kind>]]`) and how to make one from that table.
package protocol UplinkKind {
    static var kind: String { get }
    static func make(from reader: ConfigReader, context: UplinkContext) -> ConfiguredUplink?
}

/// Carries uplink warnings to the runtime's log, which exists only after the config has been read.
package final class WarningRelay: Sendable {
    private let sink = Mutex<(@Sendable (String) -> Void)?>(nil)

    package init() {}

    package func connect(_ handler: @escaping @Sendable (String) -> Void) {
        sink.withLock { $0 = handler }
    }

    package func callAsFunction(_ message: String) {
        sink.withLock { $0 }?(message)
    }
}
