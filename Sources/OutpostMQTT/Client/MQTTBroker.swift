/// Where and how to reach one MQTT broker (`[mqtt.brokers.<name>]`).
public struct MQTTBroker: Sendable, Equatable {
    public enum ProtocolVersion: String, Sendable, Equatable {
        /// MQTT 5, falling back to 3.1.1 when the broker answers "unacceptable protocol version".
        case auto
        case v311 = "3.1.1"
        case v5 = "5"
    }

    /// MQTT 5 Session Expiry Interval sent on CONNECT: the broker keeps our session (subscriptions, QoS 1 messages
    /// for us) this long after a disconnect, so an Outpost restart or a short outage loses no sensor reading.
    /// 3.1.1 sessions with clean_session = false never expire.
    public static let sessionExpirySeconds: UInt32 = 3600

    /// A last will: what the broker publishes for us when we vanish without saying goodbye.
    public struct Will: Sendable, Equatable {
        public var topic: String
        public var payload: [UInt8]
        public var retain: Bool

        public init(topic: String, payload: [UInt8], retain: Bool) {
            self.topic = topic
            self.payload = payload
            self.retain = retain
        }
    }

    public var host: String
    public var port: Int
    public var tls: Bool
    public var caFile: String?
    public var clientCertificate: String?
    public var clientKey: String?
    public var username: String?
    public var password: String?
    public var clientID: String
    public var keepAlive = 30
    public var protocolVersion = ProtocolVersion.auto
    /// A broker that accepts the connection but does not answer CONNECT within this is treated as gone (libmosquitto
    /// itself would wait forever). Not a config key: 10 s covers a satellite link's round trips.
    public var connackTimeout = Duration.seconds(10)
    public var will: Will?

    public init(host: String, port: Int, tls: Bool = false, clientID: String) {
        self.host = host
        self.port = port
        self.tls = tls
        self.clientID = clientID
    }

    /// `mqtt://host[:port]` (default 1883) or `mqtts://host[:port]` (default 8883).
    public static func parse(url: String, clientID: String) -> MQTTBroker? {
        let tls: Bool
        let rest: Substring
        if url.hasPrefix("mqtts://") {
            tls = true
            rest = url.dropFirst(8)
        } else if url.hasPrefix("mqtt://") {
            tls = false
            rest = url.dropFirst(7)
        } else {
            return nil
        }
        let hostPort = rest.split(separator: "/").first.map(String.init) ?? ""
        let parts = hostPort.split(separator: ":")
        guard let host = parts.first, !host.isEmpty, parts.count <= 2 else { return nil }
        let port = parts.count == 2 ? Int(parts[1]) : (tls ? 8883 : 1883)
        guard let port, (1...65535).contains(port) else { return nil }
        return MQTTBroker(host: String(host), port: port, tls: tls, clientID: clientID)
    }
}
