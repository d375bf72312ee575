import Logging
import OutpostBatch
import OutpostCore
import OutpostDelivery
import OutpostDetect
import OutpostInputs
import OutpostMQTT
import OutpostSpool
import OutpostUplinks
import OutpostWire
import ServiceLifecycle

/// The batcher as the runtime holds it: a service, and the door of detection's samples and the router's events.
typealias BatcherStage = Service & SampleSink & RoutedEventSink

/// Wires a validated configuration into services and runs them until SIGINT or SIGTERM.
///
/// inputs ─► detection ─► batcher ─► spool (SQLite) ─► delivery loops ─► uplinks (OTLP/HTTP, MQTT)
///                 └─► event router (alert filter, stdout, log) ─┘     (spool and delivery events: the router too)
/// status file ◄─ counters, spool statistics, uplink states
public struct Runtime: Sendable {
    package let configuration: OutpostConfiguration
    private let clock: any Clock<Duration>
    private let wallClock: any WallClock
    private let extraOutputs: [any EventOutput]
    /// The process environment: `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` when systemd runs us; `TZ`.
    private let environment: [String: String]
    /// Where a reload sets `[log] level`, when the program's log handlers read it.
    package var logLevel: LogLevelControl?
    /// The file SIGHUP reads again; default: the file the configuration came from (none for the built-in demo).
    package var configurationFile: ConfigurationFile?

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

    /// Runs until a shutdown signal (SIGTERM, SIGINT); SIGHUP reloads the configuration file it came from.
    public func run(logger: Logger) async throws {
        let file = configurationFile ?? (configuration.origin == BuiltInConfiguration.origin
            ? nil : ConfigurationFile(path: configuration.origin, environment: environment))
        let group = ServiceGroup(configuration: try await groupConfiguration(logger: logger, configurationFile: file))
        try await group.run()
    }

    /// Every uplink: the configured ones, then the alert publisher when `[alerts] mqtt_broker` names a broker.
    static func uplinks(of configuration: OutpostConfiguration) -> [ConfiguredUplink] {
        var uplinks = configuration.uplinks
        if let name = configuration.alerts.mqttBroker, let broker = configuration.mqtt.brokers[name] {
            uplinks.append(ConfiguredUplink(kind: MQTTAlertPublisherSettings.kind,
                                            settings: MQTTAlertPublisherSettings(broker: name, settings: broker)))
        }
        return uplinks
    }

    /// `uplinks(of:)`, refusing a repeated name: the configuration refuses one with its line; this guards one
    /// assembled another way.
    static func checkedUplinks(of configuration: OutpostConfiguration) throws -> [ConfiguredUplink] {
        let uplinks = uplinks(of: configuration)
        let names = uplinks.map(\.name)
        if let repeated = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
            throw StartupError("two uplinks are named `\(repeated)`; the spool keys deliveries by name")
        }
        return uplinks
    }

    func allUplinks() throws -> [ConfiguredUplink] {
        try Self.checkedUplinks(of: configuration)
    }

    /// What the spool routes by: each uplink's name and the signals its kind accepts.
    static func spoolDestinations(_ uplinks: [ConfiguredUplink]) -> [SpoolDestination] {
        uplinks.map { SpoolDestination(uplink: $0.name, accepts: $0.settings.accepts) }
    }

    /// The runtime's services: the supervisor, which runs the pipeline and reloads it, and systemd's notifier. The
    /// first pipeline is built here, so what stops the start (a spool or status file refused) throws here.
    func groupConfiguration(logger: Logger, configurationFile: ConfigurationFile? = nil)
        async throws -> ServiceGroupConfiguration
    {
        warnAboutSharedIdentity(logger: logger)
        let memory = RuntimeMemory(startedAt: wallClock.nowNanos())
        let supervisor = try await RuntimeSupervisor.start(configuration, file: configurationFile, memory: memory,
                                                           context: context(logger: logger))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: supervisor)]
        // Last, so READY=1 goes out once every other service has started.
        if let notifier = SystemdNotifier(environment: environment) {
            services.append(.init(service: SystemdNotifyService(notifier: notifier, counters: memory.counters,
                                                                clock: clock, logger: logger)))
        }
        var group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                              cancellationSignals: [], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(25)
        return group
    }

    /// What every pipeline is built with, whatever its configuration.
    struct Context: Sendable {
        let clock: any Clock<Duration>
        let wallClock: any WallClock
        let extraOutputs: [any EventOutput]
        let logger: Logger
        let logLevel: LogLevelControl?
        /// The process environment, for `${VAR}` in a configuration a reload reads, and `TZ` for sync windows.
        let environment: [String: String]

        func outputs(_ configuration: OutpostConfiguration) -> [any EventOutput] {
            var outputs: [any EventOutput] = [LogEventOutput(logger: logger)] + extraOutputs
            if configuration.alerts.stdout { outputs.append(StdoutAlertOutput(gateway: configuration.gateway.id)) }
            return outputs
        }

        func uplinkResources(_ mqtt: MQTTConnections) -> UplinkResources {
            UplinkResources(mqtt: mqtt, warn: { [logger] in logger.warning("\($0)") })
        }

        func inputResources(_ configuration: OutpostConfiguration, mqtt: MQTTConnections) -> InputResources {
            InputResources(clock: clock, wallClock: configuration.sampleClock ?? wallClock, mqtt: mqtt)
        }

        /// `uplinks` gives the running delivery loops, whose states the self-metrics report.
        func makeBatcher(_ configuration: OutpostConfiguration, sink: SpoolService, alerts: Bool,
                         counters: PipelineCounters, reduction: Reduction,
                         uplinks: @escaping @Sendable () -> [DeliveryLoop]) -> any BatcherStage {
            makeBatcher(configuration, sink: sink, alerts: alerts, counters: counters, reduction: reduction,
                        uplinks: uplinks, clock: clock)
        }

        /// Opens the existential clock, so the batcher is specialised for the concrete clock and spool.
        private func makeBatcher<C: Clock<Duration>>(_ configuration: OutpostConfiguration, sink: SpoolService,
                                                      alerts: Bool, counters: PipelineCounters, reduction: Reduction,
                                                      uplinks: @escaping @Sendable () -> [DeliveryLoop], clock: C)
            -> any BatcherStage
        {
            let topic = AlertTopic(template: configuration.alerts.mqttTopic, prefix: configuration.mqtt.topicPrefix,
                                   gateway: configuration.gateway.id)
            return BatcherService(
                configuration: configuration.batch, resource: configuration.resource, sink: sink,
                alertDocuments: alerts ? AlertDocuments(topic: topic, gateway: configuration.gateway.id) : nil,
                selfMetricsInterval: configuration.status.selfMetricsInterval,
                selfMetrics: { now in
                    SelfMetrics.samples(counters: counters.snapshot, spool: sink.statistics.withLock { $0 },
                                        uplinks: uplinks().map { loop in
                                            (loop.status.withLock { $0 },
                                             sink.allowances.status(for: loop.uplink.name, now: now))
                                        }, now: now)
                },
                reduction: reduction, clock: clock, wallClock: wallClock, logger: logger)
        }
    }

    /// A gateway id left at an image's default host name (`raspberrypi`) is probably shared by other gateways of the
    /// fleet: their status topics, alert topics and batches would mix. The MQTT client id carries the machine's own
    /// id, so their sessions stay apart, but the data cannot.
    private func warnAboutSharedIdentity(logger: Logger) {
        guard MachineIdentity.defaultHostNames.contains(configuration.gateway.id.lowercased()) else { return }
        logger.warning("""
            [gateway] id is `\(configuration.gateway.id)`, the host name fresh images ship with: gateways cloned \
            from one SD card share it, and their topics, status and batches mix. Set [gateway] id (or the host name) \
            per gateway.
            """)
    }

    private func context(logger: Logger) -> Context {
        Context(clock: clock, wallClock: wallClock, extraOutputs: extraOutputs, logger: logger, logLevel: logLevel,
                environment: environment)
    }
}
