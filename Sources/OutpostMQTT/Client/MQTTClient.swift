import CMosquitto
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a QoS 1 publish ended.
public enum MQTTPublishOutcome: Sendable, Equatable {
    /// The broker acknowledged it (PUBACK): it is the broker's now.
    case acknowledged
    /// Not sent or not acknowledged in time; the caller keeps the message and tries again later.
    case failed(String)
}

/// A message received on a subscription.
public struct MQTTMessage: Sendable {
    public let topic: String
    public let payload: [UInt8]

    public init(topic: String, payload: [UInt8]) {
        self.topic = topic
        self.payload = payload
    }
}

/// A connection change, for logs, status and re-subscribing.
public enum MQTTConnectionEvent: Sendable, Equatable {
    case connected(sessionPresent: Bool)
    case disconnected(reason: String)
}

/// One libmosquitto client: its own network thread (`mosquitto_loop_start`), automatic reconnects with backoff,
/// QoS 1 publishes that complete on PUBACK.
///
/// libmosquitto calls back on its network thread; the callbacks are C functions defined here, in library code,
/// and reach this client through the `void *` user data (never closures formed in `main.swift`, which would be
/// main-actor isolated and crash when a C thread calls them).
public final class MQTTClient: Sendable {
    public let broker: MQTTBroker
    private let context: MQTTClientContext
    public let events: AsyncStream<MQTTConnectionEvent>

    public init(broker: MQTTBroker) throws(MQTTError) {
        MQTTLibrary.initialize()
        self.broker = broker
        let (events, continuation) = AsyncStream<MQTTConnectionEvent>.makeStream(bufferingPolicy: .bufferingNewest(64))
        self.events = events
        context = try MQTTClientContext(broker: broker, events: continuation)
    }

    /// Connects in the background and keeps reconnecting (1 s doubling to 30 s) until `stop`.
    public func start() throws(MQTTError) {
        try context.start()
    }

    public func stop() {
        context.stop()
    }

    /// Drops the connection without a DISCONNECT packet, as a crash or a power cut would (the broker then publishes
    /// the last will). For tests.
    public func stopWithoutGoodbyeForTesting() {
        context.vanish()
    }

    public var isConnected: Bool { context.isConnected }

    /// Publishes `payload` and waits for the broker's PUBACK (QoS 1), at most `timeout`.
    /// Subscribes to `filters` (wildcards allowed) at QoS 1, now and again after every reconnect, and returns the
    /// messages that match them. A slow consumer loses the oldest messages beyond `buffer`, never blocks the
    /// network thread.
    public func subscribe(_ filters: [String], buffer: Int = 10_000) -> AsyncStream<MQTTMessage> {
        let (stream, continuation) = AsyncStream<MQTTMessage>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        context.addSubscription(filters: filters, continuation: continuation)
        return stream
    }

    /// With MQTT 5, `contentType` and `userProperties` travel as PUBLISH properties (§3.3.2.3); 3.1.1 has none.
    public func publish(topic: String, payload: [UInt8], retain: Bool = false, contentType: String? = nil,
                        userProperties: [(String, String)] = [], timeout: Duration = .seconds(10)) async
        -> MQTTPublishOutcome
    {
        await context.publish(topic: topic, payload: payload, retain: retain, contentType: contentType,
                              userProperties: userProperties, timeout: timeout)
    }
}

/// A libmosquitto error code with its text.
public struct MQTTError: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public let message: String

    init(_ code: Int32, _ what: String) {
        self.code = code
        self.message = "\(what): \(String(cString: mosquitto_strerror(code)))"
    }

    public var description: String { message }
}

/// The state libmosquitto's callbacks reach through `void *` user data.
///
/// `@unchecked Sendable` is safe because the `mosquitto` handle is only used through libmosquitto's thread-safe
/// calls (publish, connect, loop start/stop), and every mutable Swift field lives in the `Mutex`.
final class MQTTClientContext: @unchecked Sendable {
    private let handle: OpaquePointer
    private let broker: MQTTBroker
    private let events: AsyncStream<MQTTConnectionEvent>.Continuation

    private struct State {
        var connected = false
        var waiting: [Int32: CheckedContinuation<MQTTPublishOutcome, Never>] = [:]
        /// PUBACKs that arrived before their publisher started waiting (loopback brokers are that fast).
        var acknowledgedEarly: Set<Int32> = []
        /// Publishes given up on (timed out): a late PUBACK for them must not count for anyone else.
        var abandoned: Set<Int32> = []
        var subscriptions: [(filters: [String], continuation: AsyncStream<MQTTMessage>.Continuation)] = []
    }

    private let state = Mutex(State())

    init(broker: MQTTBroker, events: AsyncStream<MQTTConnectionEvent>.Continuation) throws(MQTTError) {
        self.broker = broker
        self.events = events
        // A persistent session (clean_session = false): the broker keeps our subscriptions and in-flight QoS 1
        // messages across reconnects (MQTT 3.1.1 §3.1.2.4, MQTT 5 §3.1.2.4 with a session expiry).
        guard let handle = mosquitto_new(broker.clientID, false, nil) else {
            throw MQTTError(MOSQ_ERR_NOMEM.rawValue, "cannot create an MQTT client")
        }
        self.handle = handle
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        try configure()
    }

    deinit {
        mosquitto_destroy(handle)
    }

    private func configure() throws(MQTTError) {
        let version = broker.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(version))
        mosquitto_connect_v5_callback_set(handle, mqttConnected)
        mosquitto_disconnect_v5_callback_set(handle, mqttDisconnected)
        mosquitto_publish_v5_callback_set(handle, mqttPublished)
        mosquitto_message_v5_callback_set(handle, mqttMessage)
        mosquitto_reconnect_delay_set(handle, 1, 30, true)
        if broker.username != nil || broker.password != nil {
            try check(mosquitto_username_pw_set(handle, broker.username, broker.password), "username/password")
        }
        if broker.tls || broker.caFile != nil {
            try check(mosquitto_tls_set(handle, broker.caFile, broker.caFile == nil ? "/etc/ssl/certs" : nil,
                                        broker.clientCertificate, broker.clientKey, nil), "TLS settings")
        }
        if let will = broker.will {
            let status = will.payload.withUnsafeBytes { payload in
                mosquitto_will_set(handle, will.topic, Int32(payload.count), payload.baseAddress, 1, will.retain)
            }
            try check(status, "last will")
        }
    }

    func start() throws(MQTTError) {
        try check(mosquitto_connect_async(handle, broker.host, Int32(broker.port), Int32(broker.keepAlive)),
                  "connect to \(broker.host):\(broker.port)")
        try check(mosquitto_loop_start(handle), "start the MQTT network thread")
    }

    func stop() {
        mosquitto_disconnect(handle)
        mosquitto_loop_stop(handle, false)
        let waiting = state.withLock { state -> [CheckedContinuation<MQTTPublishOutcome, Never>] in
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(returning: .failed("the client stopped")) }
        events.finish()
        state.withLock { $0.subscriptions }.forEach { $0.continuation.finish() }
    }

    var isConnected: Bool { state.withLock { $0.connected } }

    func vanish() {
        mosquitto_loop_stop(handle, true)
        let socket = mosquitto_socket(handle)
        if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    func publish(topic: String, payload: [UInt8], retain: Bool, contentType: String?,
                 userProperties: [(String, String)], timeout: Duration) async -> MQTTPublishOutcome
    {
        var properties: OpaquePointer?
        defer { mosquitto_property_free_all(&properties) }
        if broker.protocolVersion == .v5 {
            if let contentType {
                mosquitto_property_add_string(&properties, Int32(MQTT_PROP_CONTENT_TYPE.rawValue), contentType)
            }
            for (key, value) in userProperties {
                mosquitto_property_add_string_pair(&properties, Int32(MQTT_PROP_USER_PROPERTY.rawValue), key, value)
            }
        }
        var messageID: Int32 = 0
        let status = payload.withUnsafeBytes { bytes in
            mosquitto_publish_v5(handle, &messageID, topic, Int32(bytes.count), bytes.baseAddress, 1, retain,
                                 properties)
        }
        guard status == MOSQ_ERR_SUCCESS.rawValue else {
            return .failed(MQTTError(status, "publish to \(topic)").message)
        }
        let timer = Task { [weak self] in
            try? await ContinuousClock().sleep(for: timeout)
            self?.abandon(messageID, after: timeout)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let acknowledged = state.withLock { state -> Bool in
                if state.acknowledgedEarly.remove(messageID) != nil { return true }
                state.waiting[messageID] = continuation
                return false
            }
            if acknowledged { continuation.resume(returning: .acknowledged) }
        }
    }

    fileprivate func complete(_ messageID: Int32, with outcome: MQTTPublishOutcome) {
        let continuation = state.withLock { state -> CheckedContinuation<MQTTPublishOutcome, Never>? in
            guard let continuation = state.waiting.removeValue(forKey: messageID) else {
                if state.abandoned.remove(messageID) == nil, outcome == .acknowledged {
                    state.acknowledgedEarly.insert(messageID)
                }
                return nil
            }
            return continuation
        }
        continuation?.resume(returning: outcome)
    }

    /// The PUBACK did not come in time: the caller keeps the message (the spool sends it again: at least once).
    private func abandon(_ messageID: Int32, after timeout: Duration) {
        let continuation = state.withLock { state -> CheckedContinuation<MQTTPublishOutcome, Never>? in
            guard let continuation = state.waiting.removeValue(forKey: messageID) else { return nil }
            state.abandoned.insert(messageID)
            return continuation
        }
        continuation?.resume(returning: .failed("no PUBACK within \(timeout)"))
    }

    func addSubscription(filters: [String], continuation: AsyncStream<MQTTMessage>.Continuation) {
        let connected = state.withLock { state -> Bool in
            state.subscriptions.append((filters, continuation))
            return state.connected
        }
        if connected { subscribe(filters) }
    }

    /// MQTT 3.1.1 §3.1.2.4 / MQTT 5 §3.1.2.4: even with a persistent session, a broker may have lost it (a restart
    /// without persistence), so subscriptions are sent again after every connect.
    private func subscribe(_ filters: [String]) {
        for filter in filters { mosquitto_subscribe_v5(handle, nil, filter, 1, 0, nil) }
    }

    fileprivate func received(topic: String, payload: [UInt8]) {
        let subscriptions = state.withLock { $0.subscriptions }
        let message = MQTTMessage(topic: topic, payload: payload)
        for (filters, continuation) in subscriptions where filters.contains(where: { matches($0, topic) }) {
            continuation.yield(message)
        }
    }

    private func matches(_ filter: String, _ topic: String) -> Bool {
        var result = false
        mosquitto_topic_matches_sub(filter, topic, &result)
        return result
    }

    fileprivate func connectionChanged(connected: Bool, code: Int32, flags: Int32) {
        let filters = state.withLock { state -> [String] in
            state.connected = connected
            return connected ? state.subscriptions.flatMap(\.filters) : []
        }
        subscribe(filters)
        if connected {
            events.yield(.connected(sessionPresent: flags & 1 == 1))
        } else {
            events.yield(.disconnected(reason: String(cString: mosquitto_reason_string(code))))
        }
    }

    private func check(_ status: Int32, _ what: String) throws(MQTTError) {
        guard status == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError(status, what) }
    }
}

private func context(_ pointer: UnsafeMutableRawPointer?) -> MQTTClientContext? {
    pointer.map { Unmanaged<MQTTClientContext>.fromOpaque($0).takeUnretainedValue() }
}

// Called by libmosquitto on its network thread.
private let mqttConnected: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, Int32, OpaquePointer?)
    -> Void = { _, user, code, flags, _ in
        context(user)?.connectionChanged(connected: code == 0, code: code, flags: flags)
    }

private let mqttDisconnected: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, OpaquePointer?)
    -> Void = { _, user, code, _ in
        context(user)?.connectionChanged(connected: false, code: code, flags: 0)
    }

private let mqttPublished: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, Int32, OpaquePointer?)
    -> Void = { _, user, messageID, reason, _ in
        // MQTT 5 PUBACK reason codes ≥ 0x80 are failures (§3.4.2.1); 3.1.1 has none.
        context(user)?.complete(messageID, with: reason >= 0x80 ? .failed("PUBACK reason \(reason)") : .acknowledged)
    }

private let mqttMessage: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?,
                                         UnsafePointer<mosquitto_message>?, OpaquePointer?) -> Void = { _, user, message, _ in
    guard let message, let topic = message.pointee.topic else { return }
    let count = Int(message.pointee.payloadlen)
    let payload = count > 0 && message.pointee.payload != nil
        ? Array(UnsafeRawBufferPointer(start: message.pointee.payload, count: count)) : []
    context(user)?.received(topic: String(cString: topic), payload: payload)
}

/// `mosquitto_lib_init` must run once, before any client, and is not thread-safe.
enum MQTTLibrary {
    private static let initialized: Bool = {
        mosquitto_lib_init()
        return true
    }()

    static func initialize() {
        _ = initialized
    }
}
