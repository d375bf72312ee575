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
                case .disconnected(let reason, let lasted, let retryIn):
                    logger.warning("""
                        mqtt broker \(name): disconnected after \(Self.seconds(lasted)) (\(reason)); reconnecting in \
                        \(Self.seconds(retryIn))
                        """)
                case .unreachable(let reason, let retryIn):
                    logger.warning("""
                        mqtt broker \(name): \(reason); alerts and batches wait in the spool; retrying in \
                        \(Self.seconds(retryIn))
                        """)
                case .refused(let reason, let retryIn):
                    logger.error("""
                        mqtt broker \(name): \(reason); check the credentials and the broker's ACL; retrying in \
                        \(Self.seconds(retryIn))
                        """)
                case .probingOlderProtocol(let reason):
                    logger.notice("""
                        mqtt broker \(name): the connection closed before the broker answered MQTT 5 (\(reason)); \
                        trying MQTT 3.1.1 for this connection, MQTT 5 again on the next
                        """)
                case .fellBack(let version, let reason):
                    logger.notice("""
                        mqtt broker \(name): the broker does not speak MQTT 5 (\(reason)); using MQTT \
                        \(version.rawValue), probing MQTT 5 again in an hour
                        """)
                }
            }
        }
        // A clean stop says goodbye explicitly: the will is only for vanishing.
        _ = await client.publish(topic: statusTopic, payload: Array("offline".utf8), retain: true,
                                 timeout: .seconds(2))
        // `stop` waits for the network thread (up to 3 s on an unreachable host): not on the cooperative pool.
        await BlockingExecutor(label: "mqtt-stop").run { [client] in client.stop() }
    }

    /// `2.5 s`, for log lines.
    static func seconds(_ duration: Duration) -> String {
        let tenths = (Double(UnixNanos.from(duration)) / 1e8).rounded() / 10
        return "\(tenths) s"
    }
}
