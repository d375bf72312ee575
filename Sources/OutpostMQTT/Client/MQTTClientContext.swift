import CMosquitto
import Dispatch
import OutpostCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The state libmosquitto's callbacks reach through `void *` user data, and the network thread that drives it.
/// Publishing is in `MQTTClientContext+Publish.swift`, subscriptions in `MQTTClientContext+Subscribe.swift`.
///
/// `@unchecked Sendable` is safe because the `mosquitto` handle is used from other threads only through
/// libmosquitto's thread-safe calls (publish, subscribe, disconnect; `mosquitto_threaded_set` is on) and only while
/// holding `handleAccess`, which the network thread holds to renew the handle; connects and the loop run on the one
/// network thread, and every mutable Swift field lives in the `Mutex`.
final class MQTTClientContext: @unchecked Sendable {
    let handle: OpaquePointer
    let broker: MQTTBroker
    private let monotonic = MonotonicClock(ContinuousClock())
    private let events: AsyncStream<MQTTConnectionEvent>.Continuation
    /// Ends a backoff wait early when the client stops.
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled by the network thread as it ends.
    private let finished = DispatchSemaphore(value: 0)
    /// Held by other threads around their calls into the handle, and by the network thread while it renews it.
    let handleAccess = Mutex(())

    struct State {
        var machine: MQTTConnectionMachine
        var pending: [MQTTConnectionMachine.Action] = []
        var started = false
        var connectingSince: ContinuousClock.Instant?
        /// Connect attempts so far: every one after the first starts from a renewed handle.
        var attempts = 0
        var inFlight = MQTTInFlightPublishes<CheckedContinuation<MQTTPublishOutcome, Never>>()
        var subscriptions: [(id: Int, filters: [String], continuation: AsyncStream<MQTTMessage>.Continuation,
                             dropped: MQTTDropCounter)] = []
        var lastSubscription = 0
        /// From the broker's CONNACK (MQTT 5 Maximum Packet Size, §3.2.2.3.6); nil when it sets no limit.
        var maximumPacketSize: Int?
        var connectedHandlers: [@Sendable () -> Void] = []
        /// What libmosquitto logged about TLS during the current connect (OpenSSL's error, the certificate verdict).
        var tlsError: String?
        /// The packet size of each publish waiting for its PUBACK, and the largest the broker acknowledged: a
        /// connection that drops after a publish larger than any acknowledged hints at a broker limit.
        var publishSizes: [Int32: Int] = [:]
        var largestAcknowledged = 0
        /// When the current connection's CONNACK came (monotonic nanoseconds).
        var connectedAt: Int64 = 0

        var connected: Bool { machine.phase == .connected }
    }

    let state: Mutex<State>

    init(broker: MQTTBroker, events: AsyncStream<MQTTConnectionEvent>.Continuation) throws(MQTTError) {
        self.broker = broker
        self.events = events
        state = Mutex(State(machine: MQTTConnectionMachine(requested: broker.protocolVersion,
                                                           stableAfter: broker.stableAfter)))
        // A persistent session (clean_session = false): the broker keeps our subscriptions and in-flight QoS 1
        // messages across reconnects (MQTT 3.1.1 §3.1.2.4; MQTT 5 with the session expiry sent on CONNECT).
        guard let handle = mosquitto_new(broker.clientID, false, nil) else {
            throw MQTTError(MOSQ_ERR_NOMEM.rawValue, "cannot create an MQTT client")
        }
        self.handle = handle
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
        installCallbacks()
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
        handleAccess.withLock { _ in _ = mosquitto_disconnect(handle) }
        wake.signal()
        if started { _ = finished.wait(timeout: .now() + .seconds(3)) }
        failInFlight(reason: "the client stopped")
        events.finish()
        finishSubscriptions()
    }

    var isConnected: Bool { state.withLock { $0.connected } }

    var protocolVersion: MQTTBroker.ProtocolVersion { state.withLock { $0.machine.version } }

    /// The smaller of the broker's announced limit (MQTT 5 CONNACK) and the configured `max_packet_size`.
    var maximumPacketSize: Int? {
        let announced = state.withLock { $0.maximumPacketSize }
        return [announced, broker.maximumPacketSize].compactMap { $0 }.min()
    }

    func vanish() {
        state.withLock { state in _ = state.machine.handle(.stop, random: 0) }
        wake.signal()
        handleAccess.withLock { _ in
            let socket = mosquitto_socket(handle)
            if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
        }
    }

    func addConnectedHandler(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.connectedHandlers.append(handler) }
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
                    feed(lost(code: status))
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
        let now = monotonic.nowNanos()
        state.withLock { state in
            state.pending += state.machine.handle(input, random: Double.random(in: 0..<1), now: now)
        }
    }

    /// What a lost connection (`code`: a disconnect callback's, or `mosquitto_loop`'s) means for the machine: a
    /// failed TLS handshake is a failed connect (never a sign of the protocol version); anything else a closed
    /// connection, named, with a hint when it followed a publish larger than any the broker acknowledged.
    private func lost(code: Int32) -> MQTTConnectionMachine.Input {
        let now = monotonic.nowNanos()
        let (connecting, tls, suspect) = state.withLock { state -> (Bool, String?, String?) in
            defer {
                state.publishSizes = [:]
                state.tlsError = nil
            }
            let connected = state.machine.phase == .connected
            // Only a bare close says nothing itself: a broker's reason or libmosquitto's error names the cause.
            guard connected, code == MOSQ_ERR_CONN_LOST.rawValue else {
                return (state.machine.phase == .connecting, state.tlsError, nil)
            }
            let largest = state.publishSizes.values.max() ?? 0
            if state.largestAcknowledged > 0, largest > state.largestAcknowledged {
                return (false, nil, "; it dropped with a publish of \(largest) bytes in flight, larger than any the "
                    + "broker acknowledged (\(state.largestAcknowledged)): if it limits packet sizes (an MQTT 3.1.1 "
                    + "broker cannot say so), set max_packet_size in [mqtt.brokers.<name>] below \(largest)")
            }
            let lasted = Duration.nanoseconds(max(0, now - state.connectedAt))
            guard lasted < broker.stableAfter else { return (false, nil, nil) }
            // A broker that drops a client it just accepted (mosquitto closes the older of two connections with one
            // client id without a DISCONNECT the client could read) says why only in its own log.
            return (false, nil, "; the broker closed it soon after accepting it: another client connecting with client "
                + "id `\(broker.clientID)` (a second gateway?), an ACL refusing a publish or subscription, or a packet "
                + "over its limit would; the broker's log names the reason")
        }
        if code == MOSQ_ERR_TLS.rawValue || code == MOSQ_ERR_TLS_HANDSHAKE.rawValue || (connecting && tls != nil) {
            return .connectFailed(reason: tlsFailure(tls))
        }
        return .connectionLost(reason: MQTTReasons.disconnect(code: code, clientID: broker.clientID) + (suspect ?? ""))
    }

    private func tlsFailure(_ detail: String?) -> String {
        let reason = detail ?? "the handshake failed (no detail from the TLS library)"
        return "TLS with \(broker.host):\(broker.port) failed: \(reason)"
    }

    /// A line libmosquitto logs, from its network thread: TLS errors are kept for the failure they explain.
    func logged(level: Int32, message: String) {
        guard level & MOSQ_LOG_ERR != 0, message.contains("OpenSSL") || message.contains("TLS") else { return }
        let verdict = MQTTReasons.certificateVerdict(handle)
        state.withLock { state in
            if let verdict {
                state.tlsError = "\(verdict) (\(message))"
            } else if state.tlsError == nil {
                state.tlsError = message
            }
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
        let renew = state.withLock { state -> Bool in
            defer { state.attempts += 1 }
            return state.attempts > 0
        }
        if renew { renewHandle() }
        mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION,
                             Int32(version == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311))
        var properties: OpaquePointer?
        defer { mosquitto_property_free_all(&properties) }
        if version == .v5 {
            mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue),
                                         MQTTBroker.sessionExpirySeconds)
        }
        state.withLock { state in
            state.connectingSince = .now
            state.tlsError = nil
        }
        let status = mosquitto_connect_bind_v5(handle, broker.host, Int32(broker.port), Int32(broker.keepAlive), nil,
                                               properties)
        if status != MOSQ_ERR_SUCCESS.rawValue {
            let tls = state.withLock { $0.tlsError }
            let reason = status == MOSQ_ERR_TLS.rawValue || tls != nil
                ? tlsFailure(tls) : MQTTError(status, "connect to \(broker.host):\(broker.port)").message
            feed(.connectFailed(reason: reason))
        }
    }

    private func report(_ event: MQTTConnectionEvent) {
        switch event {
        case .connected:
            resubscribe()
            state.withLock { $0.connectedHandlers }.forEach { $0() }
        case .disconnected:
            failInFlight(reason: "the connection to the broker dropped")
        case .unreachable, .refused, .fellBack, .probingOlderProtocol:
            break
        }
        events.yield(event)
    }

    /// Starts every reconnect from a fresh handle. libmosquitto keeps a persistent session's unacknowledged publishes
    /// and sends them again after the next CONNACK; Outpost has already failed them back to the spool (which sends
    /// them again itself), and libmosquitto 2.0 aborts the process (`log__printf` asserting on a NULL client) when
    /// such a kept publish is larger than the new connection's maximum packet size: a batch published over 3.1.1,
    /// kept, and due again under MQTT 5's announced limit. A fresh handle also reads the TLS files again, so
    /// certificates rotated on disk are used from the next connection on.
    private func renewHandle() {
        handleAccess.withLock { _ in
            mosquitto_reinitialise(handle, broker.clientID, false, nil)
            // The same settings succeeded when the client was made.
            try? configure()
        }
    }

    /// After a `stop`, lets the loop write the DISCONNECT before the thread ends.
    private func flushGoodbye() {
        for _ in 0..<10 where mosquitto_loop(handle, 100, 1) == MOSQ_ERR_SUCCESS.rawValue {}
    }

    // MARK: From the callbacks, on the network thread

    func connackReceived(code: Int32, flags: Int32, properties: OpaquePointer?) {
        guard code == 0 else {
            let version = state.withLock { $0.machine.version }
            feed(.refused(code: Int(code), reason: MQTTReasons.refusal(code: code, version: version)))
            return
        }
        var limit: UInt32 = 0
        let advertised = mosquitto_property_read_int32(properties, Int32(MQTT_PROP_MAXIMUM_PACKET_SIZE.rawValue),
                                                       &limit, false) != nil
        let now = monotonic.nowNanos()
        state.withLock { state in
            state.maximumPacketSize = advertised ? Int(limit) : nil
            state.connectedAt = now
        }
        feed(.accepted(sessionPresent: flags & 1 == 1))
    }

    func disconnected(code: Int32) {
        feed(lost(code: code))
    }

    private func check(_ status: Int32, _ what: String) throws(MQTTError) {
        guard status == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError(status, what) }
    }
}
