import Logging
import OutpostBatch
import OutpostCore
import OutpostDelivery
import OutpostSpool
import OutpostMQTT
import ServiceLifecycle

/// Owns one broker connection: starts it, announces `online` (retained) on every connect, logs connection changes,
/// and disconnects cleanly last on shutdown (after the uplinks that publish through it have stopped).
struct MQTTBrokerService: Service, CustomStringConvertible {
    // One line for ServiceLifecycle's log, not a reflection of every stored property (see `PollGroup`).
    var description: String { "MQTTBrokerService(\(name))" }

    let name: String
    let client: MQTTClient
    let statusTopic: String
    let logger: Logger

    func run() async throws {
        client.start()
        await cancelWhenGracefulShutdown {
            for await event in client.events {
                switch event {
                case .connected(_, let version):
                    logger.info("mqtt broker \(name): connected to \(client.broker.host):\(client.broker.port) (MQTT \(version.rawValue))")
                    _ = await client.publish(topic: statusTopic, payload: Array("online".utf8), retain: true)
                case .disconnected(let reason):
                    logger.warning("mqtt broker \(name): disconnected (\(reason)); reconnecting")
                case .unreachable(let reason):
                    logger.warning("mqtt broker \(name): \(reason); alerts and batches wait in the spool; retrying")
                case .refused(let reason):
                    logger.error("mqtt broker \(name): \(reason); check the credentials and the broker's ACL; retrying")
                case .fellBack(let version):
                    logger.notice("mqtt broker \(name): the broker does not speak MQTT 5; using MQTT \(version.rawValue)")
                }
            }
        }
        // A clean stop says goodbye explicitly: the will is only for vanishing.
        _ = await client.publish(topic: statusTopic, payload: Array("offline".utf8), retain: true,
                                 timeout: .seconds(2))
        // `stop` waits for the network thread (up to 3 s on an unreachable host): not on the cooperative pool.
        await BlockingExecutor(label: "mqtt-stop").run { [client] in client.stop() }
    }
}
