import OutpostCore
import OutpostDelivery
import OutpostMQTT

/// Publishes each alert as one JSON message (QoS 1) on its MQTT topic, from the spool's alerts lane.
///
/// Alerts reach it as spooled alert documents, the one signal it accepts (and no other uplink does), so an
/// unreachable broker only delays them: they wait in the alerts lane, survive restarts, and go first when the broker
/// returns. A message leaves the spool only on PUBACK.
package struct MQTTAlertPublisher: WireCounting, ReconnectNotifying {
    /// Its name in the spool's delivery rows and in status. Only a name: what it receives follows from `accepts`;
    /// the configuration keeps operators' uplinks from taking the same name.
    package static let uplinkName = "alerts.mqtt"
    package let name = MQTTAlertPublisher.uplinkName
    package let accepts: Set<Signal> = [.alert]
    private let client: MQTTClient

    package init(client: MQTTClient) {
        self.client = client
    }

    package func deliver(_ batch: Batch) async -> DeliveryResult {
        await deliverCounting(batch).result
    }

    package func deliverCounting(_ batch: Batch) async -> CountedDelivery {
        guard batch.signal == .alert, !batch.routing.isEmpty else {
            return CountedDelivery(.rejected(reason: "batch \(batch.id) is not an alert document"), wireBytes: 0)
        }
        // An alert the broker can never take (its maximum packet size) is dropped with a report, not retried
        // forever in front of the alerts behind it.
        if let limit = client.maximumPacketSize {
            let size = MQTTPacketSize.publish(topic: batch.routing, payload: batch.payload.count,
                                              contentType: batch.contentType, userProperties: [],
                                              version: client.protocolVersion)
            if size > limit {
                return CountedDelivery(.rejected(reason: "the alert document is a \(size)-byte packet, more than the "
                    + "broker's maximum packet size of \(limit) bytes; it can never be published (its series' "
                    + "attributes are too long?)"), wireBytes: 0)
            }
        }
        let (outcome, bytes) = await client.publishCounting(topic: batch.routing, payload: batch.payload,
                                                            contentType: batch.contentType)
        switch outcome {
        case .acknowledged: return CountedDelivery(.delivered, wireBytes: bytes)
        case .failed(let reason): return CountedDelivery(.retry(after: nil, reason: reason), wireBytes: bytes)
        case .refused(let reason): return CountedDelivery(.rejected(reason: reason), wireBytes: bytes)
        }
    }
}

extension MQTTAlertPublisher {
    /// The broker is back: alerts waiting in the spool go at once, not when the backoff runs out.
    package func onReconnect(_ handler: @escaping @Sendable () -> Void) {
        client.onConnected(handler)
    }
}

/// The alert publisher as plain values: `[alerts] mqtt_broker`, the runtime adds it to the uplinks at start.
package struct MQTTAlertPublisherSettings: UplinkSettings {
    package static let kind = "mqtt_alerts"
    /// The `[mqtt.brokers.<name>]` it publishes to.
    package let broker: String
    package let endpoint: String

    package var name: String { MQTTAlertPublisher.uplinkName }
    package var accepts: Set<Signal> { [.alert] }
    package var maxBatchBytes: Int? { nil }
    package var startupWarnings: [String] { [] }

    /// Alerts retry sooner and drain faster than data: they are few, small and wanted at once.
    package var delivery: DeliverySettings {
        var delivery = DeliverySettings()
        delivery.backoff.initial = .milliseconds(500)
        delivery.backoff.maximum = .seconds(30)
        delivery.drainRate = 50
        return delivery
    }

    package init(broker name: String, settings broker: MQTTBroker) {
        self.broker = name
        self.endpoint = "\(broker.tls ? "mqtts" : "mqtt")://\(broker.host):\(broker.port)"
    }

    package func makeUplink(_ resources: UplinkResources) throws -> any Uplink {
        guard let client = try resources.mqtt?.client(named: broker) else {
            throw StartupError("[alerts] mqtt_broker: no [mqtt.brokers.\(broker)] is configured")
        }
        return MQTTAlertPublisher(client: client)
    }
}
