/// Where and how to reach one MQTT broker (`[mqtt.brokers.<name>]`).
package struct MQTTBroker: Sendable, Equatable {
    package enum ProtocolVersion: String, Sendable, Equatable {
        /// MQTT 5, falling back to 3.1.1 when the broker answers "unacceptable protocol version".
        case auto
        case v311 = "3.1.1"
        case v5 = "5"
    }

    /// MQTT 5 Session Expiry Interval sent on CONNECT: the broker keeps our session (subscriptions, QoS 1 messages
    /// for us) this long after a disconnect, so an Outpost restart or a short outage loses no sensor reading.
    /// 3.1.1 sessions with clean_session = false never expire.
    package static let sessionExpirySeconds: UInt32 = 3600

    /// A last will: what the broker publishes for us when we vanish without saying goodbye.
    package struct Will: Sendable, Equatable {
        package var topic: String
        package var payload: [UInt8]
        package var retain: Bool

        package init(topic: String, payload: [UInt8], retain: Bool) {
            self.topic = topic
            self.payload = payload
            self.retain = retain
        }
    }

    package var host: String
    package var port: Int
    package var tls: Bool
    package var caFile: String?
    package var clientCertificate: String?
    package var clientKey: String?
    package var username: String?
    package var password: String?
    package var clientID: String
    package var keepAlive = 30
    package var protocolVersion = ProtocolVersion.auto
    /// A broker that accepts the connection but does not answer CONNECT within this is treated as gone (libmosquitto
    /// itself would wait forever). Not a config key: 10 s covers a satellite link's round trips.
    package var connackTimeout = Duration.seconds(10)
    package var will: Will?
    /// `max_packet_size`: the largest packet this broker takes, for a broker that cannot announce it (MQTT 3.1.1,
    /// AWS IoT's 128 KB). An MQTT 5 broker's announced limit applies too; the smaller wins.
    package var maximumPacketSize: Int?

    /// A connection counts as healthy, ending a run of reconnect failures, once it has lasted twice the keepalive
    /// (10 s to 5 min): one the broker drops sooner keeps the backoff growing.
    package var stableAfter: Duration { .seconds(min(max(2 * keepAlive, 10), 300)) }

    package init(host: String, port: Int, tls: Bool = false, clientID: String) {
        self.host = host
        self.port = port
        self.tls = tls
        self.clientID = clientID
    }

    /// `mqtt://host[:port]` (default 1883) or `mqtts://host[:port]` (default 8883).
    package static func parse(url: String, clientID: String) -> MQTTBroker? {
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
