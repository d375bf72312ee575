/// Where and how to reach one MQTT broker (`[mqtt.brokers.<name>]`).
public struct MQTTBroker: Sendable, Equatable {
    public enum ProtocolVersion: Sendable, Equatable {
        case v311
        case v5
    }

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
    public var protocolVersion = ProtocolVersion.v5
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
