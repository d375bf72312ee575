import AsyncAlgorithms
import Logging
import OutpostCore
import OutpostInputs
import OutpostMQTT
import OutpostUplinks
import ServiceLifecycle

/// Wires a validated configuration into services and runs them until SIGINT or SIGTERM.
///
/// inputs ─► detection ─► outputs (stdout alerts, log)
///                 └────► batcher ─► spool (SQLite) ─► delivery loops ─► uplinks (OTLP/HTTP)
/// status file ◄─ counters, spool statistics, uplink states
public struct Runtime: Sendable {
    package let configuration: OutpostConfiguration
    private let clock: any Clock<Duration>
    private let wallClock: any WallClock
    private let extraOutputs: [any EventOutput]
    /// The process environment: `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` when systemd runs us.
    private let environment: [String: String]

    package init(configuration: OutpostConfiguration, clock: any Clock<Duration> = ContinuousClock(),
                wallClock: any WallClock = SystemWallClock(), environment: [String: String] = [:]) {
        self.init(configuration: configuration, clock: clock, wallClock: wallClock, extraOutputs: [],
                  environment: environment)
    }

    /// For a program that embeds Outpost: the real clocks, and `environment` for systemd's notify socket.
    public init(configuration: OutpostConfiguration, environment: [String: String]) {
        self.init(configuration: configuration, clock: ContinuousClock(), wallClock: SystemWallClock(),
                  extraOutputs: [], environment: environment)
    }

    init(configuration: OutpostConfiguration, clock: any Clock<Duration>, wallClock: any WallClock,
         extraOutputs: [any EventOutput], environment: [String: String] = [:]) {
        self.configuration = configuration
        self.clock = clock
        self.wallClock = wallClock
        self.extraOutputs = extraOutputs
        self.environment = environment
    }

    /// Runs until a shutdown signal.
    public func run(logger: Logger) async throws {
        let group = ServiceGroup(configuration: try await groupConfiguration(logger: logger))
        try await group.run()
    }

    private var alertTopic: AlertTopic {
        AlertTopic(template: configuration.alerts.mqttTopic, prefix: configuration.mqtt.topicPrefix,
                   gateway: configuration.gateway.id)
    }

    /// The MQTT alert publisher, when `[alerts] mqtt_broker` names a broker.
    private func makeAlertPublisher() throws -> ConfiguredUplink? {
        guard let name = configuration.alerts.mqttBroker,
            let client = try configuration.mqttConnections.client(named: name)
        else { return nil }
        var delivery = DeliverySettings()
        delivery.backoff.initial = .milliseconds(500)
        delivery.backoff.maximum = .seconds(30)
        delivery.drainRate = 50
        let broker = client.broker
        return ConfiguredUplink(kind: "mqtt_alerts", uplink: MQTTAlertPublisher(client: client),
                                endpoint: "\(broker.tls ? "mqtts" : "mqtt")://\(broker.host):\(broker.port)",
                                delivery: delivery)
    }

    /// The services, listed sinks first: ServiceGroup shuts down in reverse order, so the inputs stop first,
    /// detection drains what they sent, the batcher flushes into the spool, then the uplinks stop (whatever they
    /// did not deliver stays in the spool for the next start) and the status file is written a last time.
    func groupConfiguration(logger: Logger) async throws -> ServiceGroupConfiguration {
        let counters = RuntimeCounters(inputCount: configuration.inputs.count, startedAt: wallClock.nowNanos())
        let (internalEvents, internalContinuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        let alerts = try makeAlertPublisher()
        let allUplinks = configuration.uplinks + (alerts.map { [$0] } ?? [])
        // One service per broker in use: it connects, announces `online`, and disconnects last.
        let brokers = configuration.mqttConnections.created.map { name, client in
            MQTTBrokerService(name: name, client: client, statusTopic: configuration.mqttConnections.statusTopic,
                              logger: logger)
        }
        try StatusFileGuard.check(configuration.status.path)
        let spool = try await SpoolService.open(configuration.spool, uplinks: allUplinks.map(\.uplink.name),
                                                events: internalContinuation, counters: counters, clock: clock,
                                                wallClock: wallClock, eventClock: configuration.sampleClock,
                                                logger: logger)
        configuration.uplinkWarnings.connect { logger.warning("\($0)") }
        let uplinks = allUplinks.map { configured in
            let name = configured.uplink.name, endpoint = configured.endpoint
            let loop = DeliveryLoop(
                uplink: configured.uplink, endpoint: endpoint, kind: configured.kind, queue: spool,
                signal: spool.wakeSignals[name] ?? WakeSignal(), settings: configured.delivery, clock: clock,
                wallClock: wallClock
            ) { report in
                switch report {
                case .transition(let transition):
                    spool.reportTransition(transition, uplink: name, endpoint: endpoint)
                case .rejected(let batch, let reason):
                    spool.reportRejection(batch, uplink: name, reason: reason)
                }
            }
            return UplinkService(loop: loop, configured: configured, logger: logger)
        }
        let batcherChannel = AsyncChannel<BatcherMessage>()
        let batcher = BatcherService(configuration: configuration, channel: batcherChannel, spool: spool,
                                     alertTopic: alerts.map { _ in alertTopic },
                                     counters: counters, clock: clock, wallClock: wallClock, logger: logger)
        let status = StatusService(configuration: configuration, counters: counters, spool: spool,
                                   uplinks: uplinks.map(\.loop), clock: clock, wallClock: wallClock, logger: logger)
        let channel = AsyncChannel<PipelineMessage>()
        var outputs: [any EventOutput] = [LogEventOutput(logger: logger)] + extraOutputs
        if configuration.alerts.stdout { outputs.append(StdoutAlertOutput(gateway: configuration.gateway.id)) }
        let detection = DetectionService(configuration: configuration, channel: channel, outputs: outputs,
                                         batcher: batcherChannel, internalEvents: internalEvents, counters: counters,
                                         clock: clock, wallClock: wallClock, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: status)]
        services += brokers.map { .init(service: $0) }
        services += uplinks.map { .init(service: $0) }
        services += [.init(service: spool), .init(service: batcher), .init(service: detection)]
        if let sampleClock = configuration.sampleClock, sampleClock.kernelSynchronised == false,
            sampleClock.doubt == nil
        {
            logger.info("the kernel reports the clock unsynchronised (adjtimex); no NTP daemon disciplines it")
        }
        let gate = configuration.sampleClock.map {
            SampleGate(clock: $0, inputCount: configuration.inputs.count, logger: logger)
        }
        for (index, configured) in configuration.inputs.enumerated() {
            let service = InputService(configured: configured,
                                       sink: InputSink(index: index, channel: channel, gate: gate), logger: logger)
            services.append(.init(service: service, successTerminationBehavior: .ignore,
                                  failureTerminationBehavior: .ignore))
        }
        // Last, so READY=1 goes out once every other service has started.
        if let notifier = SystemdNotifier(environment: environment) {
            services.append(.init(service: SystemdNotifyService(notifier: notifier, counters: counters, clock: clock,
                                                                logger: logger)))
        }
        var group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                              cancellationSignals: [], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(20)
        return group
    }
}
