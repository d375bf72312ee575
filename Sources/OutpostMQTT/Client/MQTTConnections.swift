import Synchronization

/// One client per configured broker, shared by everything that talks to it (alerts, uplinks, inputs), created on
/// first use with the gateway's last will on its status topic.
package final class MQTTConnections: Sendable {
    package let brokers: [String: MQTTBroker]
    /// `<prefix>/<gateway>/status`: retained `online` after connecting, `offline` as the last will.
    package let statusTopic: String
    private let clients = Mutex<[String: MQTTClient]>([:])

    /// `adopting` hands over clients that are already running (a reload keeps the connections of brokers whose
    /// settings did not change).
    package init(brokers: [String: MQTTBroker], statusTopic: String,
                 adopting running: [(name: String, client: MQTTClient)] = []) {
        self.brokers = brokers
        self.statusTopic = statusTopic
        clients.withLock { clients in
            for (name, client) in running where brokers[name] != nil { clients[name] = client }
        }
    }

    /// The client for broker `name`, created (not started) on first use; nil for an unknown name.
    package func client(named name: String) throws(MQTTError) -> MQTTClient? {
        if let existing = clients.withLock({ $0[name] }) { return existing }
        guard var broker = brokers[name] else { return nil }
        broker.will = MQTTBroker.Will(topic: statusTopic, payload: Array("offline".utf8), retain: true)
        let client = try MQTTClient(broker: broker)
        return clients.withLock { clients in
            if let raced = clients[name] { return raced }
            clients[name] = client
            return client
        }
    }

    /// Every client created so far, by broker name: the runtime starts and stops them.
    package var created: [(name: String, client: MQTTClient)] {
        clients.withLock { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }
}
