import OutpostCore
import OutpostMQTT

/// Publishes each alert as one JSON message (QoS 1) on its MQTT topic, from the spool's alerts lane.
///
/// Alerts reach it as spooled alert documents, the one signal it accepts (and no other uplink does), so an
/// unreachable broker only delays them: they wait in the alerts lane, survive restarts, and go first when the broker
/// returns. A message leaves the spool only on PUBACK.
package struct MQTTAlertPublisher: Uplink, ReconnectNotifying {
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
        guard batch.signal == .alert, !batch.routing.isEmpty else {
            return .rejected(reason: "batch \(batch.id) is not an alert document")
        }
        switch await client.publish(topic: batch.routing, payload: batch.payload, contentType: batch.contentType) {
        case .acknowledged: return .delivered
        case .failed(let reason): return .retry(after: nil, reason: reason)
        }
    }
}

extension MQTTAlertPublisher {
    /// The broker is back: alerts waiting in the spool go at once, not when the backoff runs out.
    package func onReconnect(_ handler: @escaping @Sendable () -> Void) {
        client.onConnected(handler)
    }
}

