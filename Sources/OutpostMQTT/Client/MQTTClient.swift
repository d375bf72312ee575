import CMosquitto
import Synchronization

/// How a QoS 1 publish ended.
package enum MQTTPublishOutcome: Sendable, Equatable {
    /// The broker acknowledged it (PUBACK): it is the broker's now.
    case acknowledged
    /// Not sent or not acknowledged in time; the caller keeps the message and tries again later.
    case failed(String)
    /// Refused for good: larger than the broker's maximum packet size, or a PUBACK saying the message itself is
    /// unacceptable (not authorised, invalid topic or payload format). Sending it again can never work.
    case refused(String)
}

/// A message received on a subscription.
package struct MQTTMessage: Sendable {
    package let topic: String
    package let payload: [UInt8]

    package init(topic: String, payload: [UInt8]) {
        self.topic = topic
        self.payload = payload
    }
}

/// What `subscribe` returns: the messages, and how many were lost to a full buffer.
package struct MQTTSubscription: Sendable {
    package let messages: AsyncStream<MQTTMessage>
    package let dropped: MQTTDropCounter
}

/// Messages acknowledged to the broker but dropped before the consumer read them (a full buffer).
package final class MQTTDropCounter: Sendable {
    private let count = Atomic<Int>(0)

    package init() {}

    func add() { count.add(1, ordering: .relaxed) }

    /// The drops since the last call.
    package func take() -> Int { count.exchange(0, ordering: .relaxed) }
}

/// A connection change, for logs and status.
package enum MQTTConnectionEvent: Sendable, Equatable {
    case connected(sessionPresent: Bool, version: MQTTBroker.ProtocolVersion)
    /// An established connection ended after `lasted`; the next attempt comes in `retryIn`.
    case disconnected(reason: String, lasted: Duration, retryIn: Duration)
    /// A connect attempt failed before the broker answered (DNS, TCP, TLS); retried with backoff.
    case unreachable(reason: String, retryIn: Duration)
    /// A CONNACK refusal (bad credentials, not authorised, ...): retried with backoff, as the broker's operator
    /// may be fixing it.
    case refused(reason: String, retryIn: Duration)
    /// `protocol = "auto"`: the broker closed an MQTT 5 connect before answering; 3.1.1 is tried at once, for this
    /// connection (MQTT 5 again on the next).
    case probingOlderProtocol(reason: String)
    /// `protocol = "auto"` and the broker does not speak MQTT 5 (`reason` says how it showed); probed again later.
    case fellBack(to: MQTTBroker.ProtocolVersion, reason: String)
}

/// One libmosquitto client: its own network thread driving `mosquitto_loop`, reconnects decided by
/// `MQTTConnectionMachine` (backoff with jitter, MQTT 5 → 3.1.1 fallback), QoS 1 publishes that complete on PUBACK.
///
/// libmosquitto calls back on its network thread; the callbacks are C functions in library code
/// (`MQTTCallbacks.swift`) and reach this client's `MQTTClientContext` through the `void *` user data (never
/// closures formed in `main.swift`, which would be main-actor isolated and crash when a C thread calls them).
package final class MQTTClient: Sendable {
    package let broker: MQTTBroker
    private let context: MQTTClientContext
    package let events: AsyncStream<MQTTConnectionEvent>

    package init(broker: MQTTBroker) throws(MQTTError) {
        MQTTLibrary.initialize()
        self.broker = broker
        let (events, continuation) = AsyncStream<MQTTConnectionEvent>.makeStream(bufferingPolicy: .bufferingNewest(64))
        self.events = events
        context = try MQTTClientContext(broker: broker, events: continuation)
    }

    /// Connects in the background and keeps reconnecting (1 s doubling to 30 s, jittered) until `stop`. A broker
    /// that is down, unresolvable or refusing is not an error here: it shows in `events` and `isConnected`.
    package func start() {
        context.start()
    }

    package func stop() {
        context.stop()
    }

    /// Drops the connection without a DISCONNECT packet, as a crash or a power cut would (the broker then publishes
    /// the last will). For tests.
    package func stopWithoutGoodbyeForTesting() {
        context.vanish()
    }

    package var isConnected: Bool { context.isConnected }

    /// Calls `handler` after every successful connect (and reconnect), on the client's network thread: keep it short
    /// (ring a signal). Uplinks use it to end their backoff when the broker is back.
    package func onConnected(_ handler: @escaping @Sendable () -> Void) {
        context.addConnectedHandler(handler)
    }

    /// The largest packet the broker accepts: the smaller of its MQTT 5 CONNACK's and the configured
    /// `max_packet_size`; nil when neither sets a limit.
    package var maximumPacketSize: Int? { context.maximumPacketSize }

    /// The MQTT version of the current connection (or the one being tried).
    package var protocolVersion: MQTTBroker.ProtocolVersion { context.protocolVersion }

    /// Subscribes to `filters` (wildcards allowed) at QoS 1, now and again after every reconnect, and returns the
    /// messages that match them. A slow consumer loses the oldest messages beyond `buffer` (a persistent session's
    /// backlog arriving at once at reconnect can be larger), never blocks the network thread; every loss is counted
    /// in the subscription's `dropped`, since the broker already has its PUBACK.
    package func subscribe(_ filters: [String], buffer: Int = 10_000) -> MQTTSubscription {
        let (stream, continuation) = AsyncStream<MQTTMessage>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        let dropped = MQTTDropCounter()
        context.addSubscription(filters: filters, continuation: continuation, dropped: dropped)
        return MQTTSubscription(messages: stream, dropped: dropped)
    }

    /// Publishes `payload` and waits for the broker's PUBACK (QoS 1), at most `timeout`.
    /// With MQTT 5, `contentType` and `userProperties` travel as PUBLISH properties (§3.3.2.3); 3.1.1 has none.
    package func publish(topic: String, payload: [UInt8], retain: Bool = false, contentType: String? = nil,
                        userProperties: [(String, String)] = [], timeout: Duration = .seconds(10)) async
        -> MQTTPublishOutcome
    {
        await context.publish(topic: topic, payload: payload, retain: retain, contentType: contentType,
                              userProperties: userProperties, timeout: timeout).0
    }

    /// `publish`, also saying how many bytes of MQTT packets the attempt put on the wire: the PUBLISH (once handed to
    /// libmosquitto) and the PUBACK (once it came), for byte budgets.
    package func publishCounting(topic: String, payload: [UInt8], retain: Bool = false, contentType: String? = nil,
                                 userProperties: [(String, String)] = [], timeout: Duration = .seconds(10)) async
        -> (outcome: MQTTPublishOutcome, wireBytes: Int)
    {
        await context.publish(topic: topic, payload: payload, retain: retain, contentType: contentType,
                              userProperties: userProperties, timeout: timeout)
    }
}

/// A libmosquitto error code with its text.
package struct MQTTError: Error, Sendable, CustomStringConvertible {
    package let code: Int32
    package let message: String

    init(_ code: Int32, _ what: String) {
        self.code = code
        self.message = "\(what): \(String(cString: mosquitto_strerror(code)))"
    }

    package var description: String { message }
}
