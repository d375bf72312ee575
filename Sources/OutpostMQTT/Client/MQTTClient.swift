import CMosquitto
import Dispatch
import OutpostCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a QoS 1 publish ended.
package enum MQTTPublishOutcome: Sendable, Equatable {
    /// The broker acknowledged it (PUBACK): it is the broker's now.
    case acknowledged
    /// Not sent or not acknowledged in time; the caller keeps the message and tries again later.
    case failed(String)
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

/// A connection change, for logs and status.
package enum MQTTConnectionEvent: Sendable, Equatable {
    case connected(sessionPresent: Bool, version: MQTTBroker.ProtocolVersion)
    case disconnected(reason: String)
    /// A connect attempt failed before the broker answered (DNS, TCP, TLS); retried with backoff.
    case unreachable(reason: String)
    /// A CONNACK refusal (bad credentials, not authorised, ...): retried with backoff, as the broker's operator
    /// may be fixing it.
    case refused(reason: String)
    /// `protocol = "auto"` and the broker does not speak MQTT 5.
    case fellBack(to: MQTTBroker.ProtocolVersion)
}

/// One libmosquitto client: its own network thread driving `mosquitto_loop`, reconnects decided by
/// `MQTTConnectionMachine` (backoff with jitter, MQTT 5 → 3.1.1 fallback), QoS 1 publishes that complete on PUBACK.
///
/// libmosquitto calls back on its network thread; the callbacks are C functions defined here, in library code,
/// and reach this client through the `void *` user data (never closures formed in `main.swift`, which would be
/// main-actor isolated and crash when a C thread calls them).
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

    /// The largest packet the broker accepts, from its MQTT 5 CONNACK; nil when it sets no limit (or speaks 3.1.1).
    package var maximumPacketSize: Int? { context.maximumPacketSize }

    /// Publishes `payload` and waits for the broker's PUBACK (QoS 1), at most `timeout`.
    /// Subscribes to `filters` (wildcards allowed) at QoS 1, now and again after every reconnect, and returns the
    /// messages that match them. A slow consumer loses the oldest messages beyond `buffer`, never blocks the
    /// network thread.
    package func subscribe(_ filters: [String], buffer: Int = 10_000) -> AsyncStream<MQTTMessage> {
        let (stream, continuation) = AsyncStream<MQTTMessage>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        context.addSubscription(filters: filters, continuation: continuation)
        return stream
    }

    /// With MQTT 5, `contentType` and `userProperties` travel as PUBLISH properties (§3.3.2.3); 3.1.1 has none.
    package func publish(topic: String, payload: [UInt8], retain: Bool = false, contentType: String? = nil,
                        userProperties: [(String, String)] = [], timeout: Duration = .seconds(10)) async
        -> MQTTPublishOutcome
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

/// The state libmosquitto's callbacks reach through `void *` user data, and the network thread that drives it.
///
/// `@unchecked Sendable` is safe because the `mosquitto` handle is used from other threads only through
/// libmosquitto's thread-safe calls (publish, subscribe, disconnect; `mosquitto_threaded_set` is on), connects and
/// the loop run on the one network thread, and every mutable Swift field lives in the `Mutex`.
final class MQTTClientContext: @unchecked Sendable {
    private let handle: OpaquePointer
    private let broker: MQTTBroker
    private let events: AsyncStream<MQTTConnectionEvent>.Continuation
    /// Ends a backoff wait early when the client stops.
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled by the network thread as it ends.
    private let finished = DispatchSemaphore(value: 0)

    private struct State {
        var machine: MQTTConnectionMachine
        var pending: [MQTTConnectionMachine.Action] = []
        var started = false
        var connectingSince: ContinuousClock.Instant?
        var waiting: [Int32: CheckedContinuation<MQTTPublishOutcome, Never>] = [:]
        /// PUBACKs that arrived before their publisher started waiting (loopback brokers are that fast).
        var acknowledgedEarly: Set<Int32> = []
        /// Publishes given up on (timed out, or the connection dropped): a late PUBACK for them must not count for
        /// anyone else.
        var abandoned: Set<Int32> = []
        var subscriptions: [(filters: [String], continuation: AsyncStream<MQTTMessage>.Continuation)] = []
        /// From the broker's CONNACK (MQTT 5 Maximum Packet Size, §3.2.2.3.6); nil when it sets no limit.
        var maximumPacketSize: Int?
        var connectedHandlers: [@Sendable () -> Void] = []

        var connected: Bool { machine.phase == .connected }
    }

    private let state: Mutex<State>

    init(broker: MQTTBroker, events: AsyncStream<MQTTConnectionEvent>.Continuation) throws(MQTTError) {
        self.broker = broker
        self.events = events
        state = Mutex(State(machine: MQTTConnectionMachine(requested: broker.protocolVersion)))
        // A persistent session (clean_session = false): the broker keeps our subscriptions and in-flight QoS 1
        // messages across reconnects (MQTT 3.1.1 §3.1.2.4; MQTT 5 with the session expiry sent on CONNECT).
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
        try check(mosquitto_threaded_set(handle, true), "threaded mode")
        // Alerts are small packets sent one at a time: without TCP_NODELAY, Nagle's algorithm holds each one back
        // until the previous one's ACK (~40 ms with delayed ACKs).
        try check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1), "TCP_NODELAY")
        mosquitto_connect_v5_callback_set(handle, mqttConnected)
        mosquitto_disconnect_v5_callback_set(handle, mqttDisconnected)
        mosquitto_publish_v5_callback_set(handle, mqttPublished)
        mosquitto_message_v5_callback_set(handle, mqttMessage)
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

    /// Starts the network thread once; connecting, refusals and reconnects all happen there.
    func start() {
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started
        }
        guard first else { return }
        // A serial queue of its own: Dispatch backs it with a thread outside the cooperative pool, which the
        // blocking connect and the `select` in `mosquitto_loop` would otherwise stall.
        DispatchQueue(label: "outpost.mqtt.\(broker.clientID)").async { [self] in
            runNetworkLoop()
            finished.signal()
        }
    }

    /// Says goodbye (DISCONNECT: no last will) and waits up to 3 s for the network thread, which may be stuck in a
    /// connect to an unreachable host; it ends on its own afterwards and keeps this context alive until then.
    func stop() {
        let started = state.withLock { state -> Bool in
            state.pending += state.machine.handle(.stop, random: 0)
            return state.started
        }
        mosquitto_disconnect(handle)
        wake.signal()
        if started { _ = finished.wait(timeout: .now() + .seconds(3)) }
        failInFlight(reason: "the client stopped")
        events.finish()
        state.withLock { $0.subscriptions }.forEach { $0.continuation.finish() }
    }

    var isConnected: Bool { state.withLock { $0.connected } }
    var maximumPacketSize: Int? { state.withLock { $0.maximumPacketSize } }

    func vanish() {
        state.withLock { state in _ = state.machine.handle(.stop, random: 0) }
        wake.signal()
        let socket = mosquitto_socket(handle)
        if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    // MARK: The network thread

    private func runNetworkLoop() {
        feed(.start)
        while true {
            if let action = nextAction() {
                perform(action)
                continue
            }
            switch state.withLock({ $0.machine.phase }) {
            case .connecting, .connected:
                let status = mosquitto_loop(handle, 1000, 1)
                // Often the disconnect callback has already said so; the machine ignores the repeat.
                if status != MOSQ_ERR_SUCCESS.rawValue {
                    feed(.connectionLost(reason: String(cString: mosquitto_strerror(status))))
                } else if connackOverdue() {
                    feed(.connectionLost(reason: "no CONNACK within \(broker.connackTimeout)"))
                }
            case .stopped:
                flushGoodbye()
                return
            case .idle, .waiting:
                _ = wake.wait(timeout: .now() + .seconds(1))
            }
        }
    }

    /// A broker that accepted the TCP (and TLS) connection but never answers CONNECT: libmosquitto would wait forever.
    private func connackOverdue() -> Bool {
        state.withLock { state in
            guard state.machine.phase == .connecting, let since = state.connectingSince else { return false }
            return ContinuousClock.now - since > broker.connackTimeout
        }
    }

    private func nextAction() -> MQTTConnectionMachine.Action? {
        state.withLock { state in state.pending.isEmpty ? nil : state.pending.removeFirst() }
    }

    private func feed(_ input: MQTTConnectionMachine.Input) {
        state.withLock { state in
            state.pending += state.machine.handle(input, random: Double.random(in: 0..<1))
        }
    }

    private func perform(_ action: MQTTConnectionMachine.Action) {
        switch action {
        case .connect(let version):
            connect(version)
        case .wait(let duration):
            let stopped = wake.wait(timeout: .now() + .nanoseconds(Int(UnixNanos.from(duration)))) == .success
            if !stopped { feed(.waited) }
        case .report(let event):
            report(event)
        case .disconnect:
            mosquitto_disconnect(handle)
        }
    }

    private func connect(_ version: MQTTBroker.ProtocolVersion) {
        mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION,
                             Int32(version == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311))
        var properties: OpaquePointer?
        defer { mosquitto_property_free_all(&properties) }
        if version == .v5 {
            mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue),
                                         MQTTBroker.sessionExpirySeconds)
        }
        state.withLock { $0.connectingSince = .now }
        let status = mosquitto_connect_bind_v5(handle, broker.host, Int32(broker.port), Int32(broker.keepAlive), nil,
                                               properties)
        if status != MOSQ_ERR_SUCCESS.rawValue {
            feed(.connectFailed(reason: MQTTError(status, "connect to \(broker.host):\(broker.port)").message))
        }
    }

    private func report(_ event: MQTTConnectionEvent) {
        switch event {
        case .connected:
            subscribe(state.withLock { $0.subscriptions.flatMap(\.filters) })
            state.withLock { $0.connectedHandlers }.forEach { $0() }
        case .disconnected:
            failInFlight(reason: "the connection to the broker dropped")
        case .unreachable, .refused, .fellBack:
            break
        }
        events.yield(event)
    }

    /// After a `stop`, lets the loop write the DISCONNECT before the thread ends.
    private func flushGoodbye() {
        for _ in 0..<10 where mosquitto_loop(handle, 100, 1) == MOSQ_ERR_SUCCESS.rawValue {}
    }

    // MARK: Publishing

    func publish(topic: String, payload: [UInt8], retain: Bool, contentType: String?,
                 userProperties: [(String, String)], timeout: Duration) async -> MQTTPublishOutcome
    {
        let (connected, version) = state.withLock { ($0.connected, $0.machine.version) }
        // Not handed to libmosquitto while offline: it would queue the message and send it on reconnect, after the
        // caller (the spool) had already counted it as failed and kept it.
        guard connected else { return .failed("not connected to \(broker.host):\(broker.port)") }
        var properties: OpaquePointer?
        defer { mosquitto_property_free_all(&properties) }
        if version == .v5 {
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
            self?.abandon(messageID, reason: "no PUBACK within \(timeout)")
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
    private func abandon(_ messageID: Int32, reason: String) {
        let continuation = state.withLock { state -> CheckedContinuation<MQTTPublishOutcome, Never>? in
            guard let continuation = state.waiting.removeValue(forKey: messageID) else { return nil }
            state.abandoned.insert(messageID)
            return continuation
        }
        continuation?.resume(returning: .failed(reason))
    }

    /// Fails every publish still waiting for its PUBACK at once, rather than at its timeout: a batch waiting behind
    /// a dead connection goes back to the spool now.
    private func failInFlight(reason: String) {
        let waiting = state.withLock { state -> [CheckedContinuation<MQTTPublishOutcome, Never>] in
            defer {
                state.abandoned.formUnion(state.waiting.keys)
                state.waiting = [:]
            }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(returning: .failed(reason)) }
    }

    // MARK: Subscriptions

    func addConnectedHandler(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.connectedHandlers.append(handler) }
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

    // MARK: Callbacks, on the network thread

    fileprivate func connackReceived(code: Int32, flags: Int32, properties: OpaquePointer?) {
        guard code == 0 else {
            feed(.refused(code: Int(code), reason: "the broker refused the connection: "
                              + String(cString: mosquitto_reason_string(code))))
            return
        }
        var limit: UInt32 = 0
        let advertised = mosquitto_property_read_int32(properties, Int32(MQTT_PROP_MAXIMUM_PACKET_SIZE.rawValue),
                                                       &limit, false) != nil
        state.withLock { $0.maximumPacketSize = advertised ? Int(limit) : nil }
        feed(.accepted(sessionPresent: flags & 1 == 1))
    }

    fileprivate func disconnected(code: Int32) {
        let reason = code == 0 ? "disconnected" : String(cString: mosquitto_reason_string(code))
        feed(.connectionLost(reason: reason))
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
    -> Void = { _, user, code, flags, properties in
        context(user)?.connackReceived(code: code, flags: flags, properties: properties)
    }

private let mqttDisconnected: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, OpaquePointer?)
    -> Void = { _, user, code, _ in
        context(user)?.disconnected(code: code)
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
