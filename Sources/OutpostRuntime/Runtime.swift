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
import Synchronization

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
    /// Where `metered = "auto"` reads the routing table (a fake one in tests).
    var meteredLinkProbe = MeteredLinkProbe()

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

    /// Every uplink: the configured ones, then the alert publisher when `[alerts] mqtt_broker` names a broker.
    func allUplinks() throws -> [ConfiguredUplink] {
        var uplinks = configuration.uplinks
        if let name = configuration.alerts.mqttBroker, let broker = configuration.mqtt.brokers[name] {
            uplinks.append(ConfiguredUplink(kind: MQTTAlertPublisherSettings.kind,
                                            settings: MQTTAlertPublisherSettings(broker: name, settings: broker)))
        }
        // The configuration refuses a repeated name with its line; this guards one assembled another way.
        let names = uplinks.map(\.name)
        if let repeated = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
            throw StartupError("two uplinks are named `\(repeated)`; the spool keys deliveries by name")
        }
        return uplinks
    }

    /// What the spool routes by: each uplink's name and the signals its kind accepts.
    static func spoolDestinations(_ uplinks: [ConfiguredUplink]) -> [SpoolDestination] {
        uplinks.map { SpoolDestination(uplink: $0.name, accepts: $0.settings.accepts) }
    }

    /// What the batcher sends fewer of: report-on-change rules by series (`[report]`, the inputs' `report` tables,
    /// `[[report.override]]`), and the uplinks that aggregate while metered.
    private func makeReduction(_ uplinks: [ConfiguredUplink], spool: SpoolService, origins: SeriesOrigins?)
        -> Reduction
    {
        let report = configuration.report
        let patches = configuration.inputs.map(\.report)
        var aggregating: [String: Duration] = [:]
        for uplink in uplinks { aggregating[uplink.name] = uplink.settings.delivery.aggregate }
        let allowances = spool.allowances
        return Reduction(rule: { series in
                             report.rule(for: series, inputPatch: origins?.origin(of: series).flatMap { patches[$0] })
                         },
                         reportsOnChange: report.mayApply(inputPatches: patches), aggregating: aggregating,
                         metricsUplinks: uplinks.filter { $0.settings.accepts.contains(.metrics) }.map(\.name),
                         isMetered: { allowances.isMetered($0) })
    }

    /// The spool's one policy: each uplink's holding rules (budgets, sync windows, drain order, metered).
    static func spoolPolicy(_ uplinks: [ConfiguredUplink]) -> SpoolPolicy {
        SpoolPolicy(holds: Dictionary(uplinks.map { ($0.name, $0.settings.delivery.holding) }) { first, _ in first })
    }

    /// A probe for the uplinks with `metered = "auto"`, if any.
    private func meteredLinkService(_ uplinks: [ConfiguredUplink], links: MeteredLinks, logger: Logger)
        -> MeteredLinkService?
    {
        let auto = uplinks.compactMap { uplink -> (name: String, interfaces: [Glob])? in
            guard case .auto(let interfaces) = uplink.settings.delivery.holding.metered else { return nil }
            return (uplink.name, interfaces.map(Glob.init))
        }
        guard !auto.isEmpty else { return nil }
        return MeteredLinkService(uplinks: auto, links: links, probe: meteredLinkProbe, clock: clock, logger: logger)
    }

    /// The live uplinks, built from their settings now that the runtime starts (libcurl and libmosquitto clients).
    private func makeUplinks(_ uplinks: [ConfiguredUplink], mqtt: MQTTConnections, logger: Logger) throws
        -> [any Uplink]
    {
        let resources = UplinkResources(mqtt: mqtt, warn: { logger.warning("\($0)") })
        return try uplinks.map { try $0.settings.makeUplink(resources) }
    }

    /// The services, listed sinks first: ServiceGroup shuts down in reverse order, so the inputs stop first,
    /// detection drains what they sent, the event router what detection sent, the batcher flushes into the spool,
    /// then the uplinks stop (whatever they did not deliver stays in the spool for the next start) and the status
    /// file is written a last time.
    ///
    /// Each stage gets the next one's door; the runtime only builds and connects them:
    /// inputs ─► detection ─► batcher ─► spool ─► delivery loops ─► uplinks, every event through the router.
    func groupConfiguration(logger: Logger) async throws -> ServiceGroupConfiguration {
        let counters = PipelineCounters(inputCount: configuration.inputs.count, startedAt: wallClock.nowNanos())
        // First: building the inputs creates the MQTT clients they use, which the broker services then start.
        // One client per broker, made here (never while the config is read) and shared by whatever uses it.
        let mqtt = MQTTConnections(brokers: configuration.mqtt.brokers, statusTopic: configuration.mqttStatusTopic)
        let inputs = makeInputs(mqtt: mqtt, logger: logger)
        let allUplinks = try self.allUplinks()
        let liveUplinks = try makeUplinks(allUplinks, mqtt: mqtt, logger: logger)
        // One service per broker in use: it connects, announces `online`, and disconnects last.
        let brokers = mqtt.created.map { name, client in
            MQTTBrokerService(name: name, client: client, statusTopic: mqtt.statusTopic,
                              logger: logger)
        }
        try StatusFileGuard.check(configuration.status.path)
        let eventClock: any WallClock = configuration.sampleClock ?? wallClock
        let router = EventRouter(minSeverity: configuration.alerts.minSeverity,
                                 sendResolved: configuration.alerts.sendResolved, outputs: outputs(logger: logger),
                                 counters: counters, provisionalClock: configuration.sampleClock,
                                 clock: clock, logger: logger)
        let meteredLinks = MeteredLinks()
        let zone = SystemTimeZone(environment: environment)
        let spool = try await SpoolService.open(configuration.spool, destinations: Self.spoolDestinations(allUplinks),
                                                policy: Self.spoolPolicy(allUplinks), meteredLinks: meteredLinks,
                                                zone: { zone.rules(nowSeconds: $0 / 1_000_000_000) },
                                                events: router, counters: counters, clock: clock,
                                                wallClock: wallClock, eventClock: eventClock, logger: logger)
        // Alert documents are made only when an uplink accepts them.
        let alertDocuments = allUplinks.contains { $0.settings.accepts.contains(.alert) }
        let board = UplinkBoard()
        let origins = configuration.inputs.contains { $0.report != nil } ? SeriesOrigins() : nil
        let reduction = makeReduction(allUplinks, spool: spool, origins: origins)
        let batcher = makeBatcher(sink: spool, alerts: alertDocuments, counters: counters, board: board,
                                  reduction: reduction, clock: clock, logger: logger)
        router.connect(to: batcher)
        let reporter = DeliveryReporter(events: router, eventClock: eventClock, clock: clock)
        let uplinks = zip(allUplinks, liveUplinks).map { configured, uplink in
            let name = configured.name, endpoint = configured.endpoint
            let loop = DeliveryLoop(
                uplink: uplink, endpoint: endpoint, kind: configured.kind, queue: spool,
                signal: spool.wakeSignals[name] ?? WakeSignal(), settings: configured.settings.delivery, clock: clock,
                wallClock: wallClock
            ) { report in
                reporter.report(report, uplink: name, endpoint: endpoint)
            }
            return UplinkService(loop: loop, configured: configured, logger: logger)
        }
        board.loops = uplinks.map(\.loop)
        let status = StatusService(configuration: configuration, counters: counters, spool: spool,
                                   uplinks: uplinks.map(\.loop), clock: clock, wallClock: wallClock, logger: logger)
        let detection = DetectionService(settings: detectionSettings, samples: batcher, events: router,
                                          counters: counters, clock: clock, wallClock: wallClock, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: status)]
        if let metered = meteredLinkService(allUplinks, links: meteredLinks, logger: logger) {
            // First, so the first look has been taken before anything is sent (until then a link counts as metered).
            await metered.look()
            services.append(.init(service: metered))
        }
        services += brokers.map { .init(service: $0) }
        // Only delivery loops report to it: without uplinks it would only wake every 5 s for nothing.
        if !uplinks.isEmpty { services.append(.init(service: reporter)) }
        services += uplinks.map { .init(service: $0) }
        services += [.init(service: spool), .init(service: batcher), .init(service: router),
                     .init(service: detection)]
        services += inputServices(inputs, detection: detection, origins: origins, logger: logger)
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

    private func outputs(logger: Logger) -> [any EventOutput] {
        var outputs: [any EventOutput] = [LogEventOutput(logger: logger)] + extraOutputs
        if configuration.alerts.stdout { outputs.append(StdoutAlertOutput(gateway: configuration.gateway.id)) }
        return outputs
    }

    private var detectionSettings: DetectionServiceSettings {
        DetectionServiceSettings(detection: configuration.detection, sources: configuration.inputs.map(\.source),
                                 inputNames: configuration.inputs.map { "\($0.kind) \($0.settings.name)" },
                                 problemInterval: configuration.log.problemInterval,
                                 readingsInterval: configuration.log.readingsInterval)
    }

    /// Opens the existential clock, so the batcher is specialised for the concrete clock and spool.
    private func makeBatcher<C: Clock<Duration>>(sink: SpoolService, alerts: Bool, counters: PipelineCounters,
                                                  board: UplinkBoard, reduction: Reduction, clock: C,
                                                  logger: Logger) -> any BatcherStage {
        BatcherService(configuration: configuration.batch, resource: configuration.resource, sink: sink,
                       alertDocuments: alerts ? AlertDocuments(topic: alertTopic, gateway: configuration.gateway.id) : nil,
                       selfMetricsInterval: configuration.status.selfMetricsInterval,
                       selfMetrics: { now in
                           SelfMetrics.samples(counters: counters.snapshot, spool: sink.statistics.withLock { $0 },
                                               uplinks: board.loops.map { loop in
                                                   (loop.status.withLock { $0 },
                                                    sink.allowances.status(for: loop.uplink.name, now: now))
                                               }, now: now)
                       },
                       reduction: reduction, clock: clock, wallClock: wallClock, logger: logger)
    }

    /// The live inputs, built from their settings now that the runtime starts (clients, reader state); one that
    /// cannot be built is logged and left out, the others run.
    private func makeInputs(mqtt: MQTTConnections, logger: Logger) -> [(any Input)?] {
        let resources = InputResources(clock: clock, wallClock: configuration.sampleClock ?? wallClock,
                                       mqtt: mqtt)
        return configuration.inputs.map { configured in
            do {
                return try configured.settings.makeInput(resources)
            } catch {
                logger.error("input not started: \(configured.kind) \(configured.settings.name): \(error)")
                return nil
            }
        }
    }

    private func inputServices(_ inputs: [(any Input)?], detection: DetectionService, origins: SeriesOrigins?,
                               logger: Logger) -> [ServiceGroupConfiguration.ServiceConfiguration]
    {
        if let sampleClock = configuration.sampleClock, sampleClock.kernelSynchronised == false,
            sampleClock.doubt == nil
        {
            logger.info("the kernel reports the clock unsynchronised (adjtimex); no NTP daemon disciplines it")
        }
        let gate = configuration.sampleClock.map {
            SampleGate(clock: $0, inputCount: configuration.inputs.count, logger: logger)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var groups: [Duration: [PollGroup.Member]] = [:]
        for (index, input) in zip(configuration.inputs.indices, inputs) {
            guard let input else { continue }
            let label = "\(configuration.inputs[index].kind) \(configuration.inputs[index].settings.name)"
            // Polled inputs of one interval share a tick; the others (MQTT, replay) run as their own service.
            if let polled = input as? any Pollable {
                groups[polled.pollInterval, default: []].append(
                    PollGroup.Member(input: index, label: label, poller: polled.makePoller()))
                continue
            }
            let door: any ReadingSink = origins.map {
                OriginRecordingSink(input: index, origins: $0, next: detection.door(forInput: index))
            } ?? detection.door(forInput: index)
            let service = InputService(input: input, label: label,
                                       sink: GatedSink(index: index, next: door, gate: gate), logger: logger)
            services.append(.init(service: service, successTerminationBehavior: .ignore,
                                  failureTerminationBehavior: .ignore))
        }
        for (interval, members) in groups.sorted(by: { $0.key < $1.key }) {
            let sink: any ReadingBatchSink = origins.map {
                OriginRecordingBatchSink(origins: $0, next: detection.batchDoor)
            } ?? detection.batchDoor
            let group = PollGroup(interval: interval, members: members, sink: sink, gate: gate,
                                  clock: clock, wallClock: configuration.sampleClock ?? wallClock, logger: logger)
            services.append(.init(service: group, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        }
        return services
    }
}

/// The delivery loops, made after the batcher whose self-metrics read their status: set once at start.
final class UplinkBoard: Sendable {
    private let state = Mutex<[DeliveryLoop]>([])

    var loops: [DeliveryLoop] {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
