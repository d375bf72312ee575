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
/// libmosquitto's thread-safe calls (publish, subscribe, disconnect; `mosquitto_threaded_set` is on), connects and
/// the loop run on the one network thread, and every mutable Swift field lives in the `Mutex`.
final class MQTTClientContext: @unchecked Sendable {
    let handle: OpaquePointer
    let broker: MQTTBroker
    private let events: AsyncStream<MQTTConnectionEvent>.Continuation
    /// Ends a backoff wait early when the client stops.
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled by the network thread as it ends.
    private let finished = DispatchSemaphore(value: 0)

    struct State {
        var machine: MQTTConnectionMachine
        var pending: [MQTTConnectionMachine.Action] = []
        var started = false
        var connectingSince: ContinuousClock.Instant?
        var inFlight = MQTTInFlightPublishes<CheckedContinuation<MQTTPublishOutcome, Never>>()
        var subscriptions: [(id: Int, filters: [String], continuation: AsyncStream<MQTTMessage>.Continuation)] = []
        var lastSubscription = 0
        /// From the broker's CONNACK (MQTT 5 Maximum Packet Size, §3.2.2.3.6); nil when it sets no limit.
        var maximumPacketSize: Int?
        var connectedHandlers: [@Sendable () -> Void] = []

        var connected: Bool { machine.phase == .connected }
    }

    let state: Mutex<State>

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
        mosquitto_disconnect(handle)
        wake.signal()
        if started { _ = finished.wait(timeout: .now() + .seconds(3)) }
        failInFlight(reason: "the client stopped")
        events.finish()
        finishSubscriptions()
    }

    var isConnected: Bool { state.withLock { $0.connected } }
    var maximumPacketSize: Int? { state.withLock { $0.maximumPacketSize } }

    func vanish() {
        state.withLock { state in _ = state.machine.handle(.stop, random: 0) }
        wake.signal()
        let socket = mosquitto_socket(handle)
        if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
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
            resubscribe()
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

    // MARK: From the callbacks, on the network thread

    func connackReceived(code: Int32, flags: Int32, properties: OpaquePointer?) {
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

    func disconnected(code: Int32) {
        let reason = code == 0 ? "disconnected" : String(cString: mosquitto_reason_string(code))
        feed(.connectionLost(reason: reason))
    }

    private func check(_ status: Int32, _ what: String) throws(MQTTError) {
        guard status == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError(status, what) }
    }
}
