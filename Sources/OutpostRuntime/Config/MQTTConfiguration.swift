import OutpostCore
import OutpostMQTT

/// `[mqtt]`: the brokers Outpost talks to, by name, and the topic prefix.
package struct MQTTConfiguration: Sendable {
    /// `topic_prefix`, default `"outpost"`: the `{prefix}` of every topic (`<prefix>/<gateway>/status`, alerts).
    package var topicPrefix = "outpost"
    /// `[mqtt.brokers.<name>]`: `url` (required, `mqtt://host[:1883]` or `mqtts://host[:8883]`), `username`,
    /// `password` (use `${ENV}`), `ca_file`, `client_certificate`, `client_key`, `client_id` (default
    /// `outpost-<gateway>-<machine>`: see `MachineIdentity`), `keepalive` (default `"30s"`), `protocol` (`"auto"`
    /// default: MQTT 5, 3.1.1 when the broker refuses 5; or `"5"`, `"3.1.1"`), `max_packet_size` (default none).
    package var brokers: [String: MQTTBroker] = [:]

    static func read(_ reader: ConfigReader?, gateway: String, machine: String? = MachineIdentity.suffix(),
                     resolve: (String) -> String) -> MQTTConfiguration {
        var configuration = MQTTConfiguration()
        guard let reader else { return configuration }
        configuration.topicPrefix = reader.string("topic_prefix", default: configuration.topicPrefix)
        if let problem = OutpostConfiguration.topicProblem(configuration.topicPrefix) {
            reader.invalid("topic_prefix", problem)
        }
        if let brokers = reader.table("brokers") {
            for name in brokers.keys {
                guard let table = brokers.table(name) else { continue }
                if let broker = readBroker(table, gateway: gateway, machine: machine, resolve: resolve) {
                    configuration.brokers[name] = broker
                }
            }
            brokers.finish()
        }
        reader.finish()
        return configuration
    }

    /// The client id two gateways cannot share by accident: the gateway id, and a hash of this machine's id and
    /// board serial (a clone of the same SD card image keeps the host name, so the gateway id).
    static func defaultClientID(gateway: String, machine: String?) -> String {
        "outpost-\(gateway)" + (machine.map { "-\($0)" } ?? "")
    }

    private static func readBroker(_ reader: ConfigReader, gateway: String, machine: String?,
                                   resolve: (String) -> String) -> MQTTBroker?
    {
        let url = reader.requiredString("url", hint: "give the broker's address, e.g. url = \"mqtt://127.0.0.1:1883\"")
        let clientID = reader.string("client_id", default: defaultClientID(gateway: gateway, machine: machine))
        var broker = url.flatMap { MQTTBroker.parse(url: $0, clientID: clientID) }
        if let url, broker == nil {
            reader.invalid("url", "`\(url)` is not an MQTT URL; write mqtt://host[:port] or mqtts://host[:port]")
        }
        // An empty value (an unset `${VAR:-}`) means no credentials, not an empty user name.
        broker?.username = reader.string("username").flatMap { $0.isEmpty ? nil : $0 }
        broker?.password = reader.string("password").flatMap { $0.isEmpty ? nil : $0 }
        broker?.caFile = reader.string("ca_file").map(resolve)
        broker?.clientCertificate = reader.string("client_certificate").map(resolve)
        broker?.clientKey = reader.string("client_key").map(resolve)
        // MQTT carries the keep-alive in a 16-bit field (MQTT 3.1.1 §3.1.2.10): at most 65535 seconds.
        var keepAlive = reader.positiveDuration("keepalive", default: .seconds(30))
        if keepAlive > .seconds(65535) {
            reader.invalid("keepalive", "must be at most 65535s (18h12m15s), the most MQTT can carry")
            keepAlive = .seconds(30)
        }
        broker?.keepAlive = Int(keepAlive.components.seconds)
        let version = reader.choice("protocol", ["auto", "5", "3.1.1"], default: "auto")
        broker?.protocolVersion = MQTTBroker.ProtocolVersion(rawValue: version) ?? .auto
        if reader.contains("max_packet_size") {
            let size = Int(reader.size("max_packet_size", in: 1024...268_435_460, default: 268_435_460))
            broker?.maximumPacketSize = size
        }
        reader.finish()
        return broker
    }
}
