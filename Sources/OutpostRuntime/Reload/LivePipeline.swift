import Logging
import OutpostBatch
import OutpostCore
import OutpostDelivery
import OutpostDetect
import OutpostInputs
import OutpostMQTT
import OutpostSpool
import OutpostUplinks
import ServiceLifecycle
import Synchronization

/// One running pipeline: its services in one group, in data-flow order, with the inputs, the uplinks and the broker
/// connections in sets a reload changes one member at a time (`apply`).
///
/// inputs ─► detection ─► batcher ─► spool ─► delivery loops ─► uplinks, every event through the router; the status
/// file reads counters, spool statistics and uplink states. ServiceGroup shuts down in reverse order: the inputs
/// stop first, detection drains what they sent, the router what detection sent, the batcher flushes into the spool,
/// then the uplinks stop (what they did not deliver stays in the spool) and the status file is written a last time.
final class LivePipeline: Sendable {
    let group: ServiceGroup
    let view: PipelineView
    private let context: Runtime.Context
    private let memory: RuntimeMemory
    private let detection: DetectionService
    private let spool: SpoolService
    private let reporter: DeliveryReporter
    private let status: StatusService
    private let gate: SampleGate?
    /// Where each series came from, when some input has a `report` table.
    private let origins: SeriesOrigins?
    private let inputs: ServiceSet
    private let uplinks: ServiceSet
    private let brokers: ServiceSet
    private let parts: Mutex<Parts>

    /// The live parts a reload changes, by what the configuration calls them.
    private struct Parts {
        var configuration: OutpostConfiguration
        var mqtt: MQTTConnections
        /// By input key: where the input runs.
        var inputs: [String: LiveInput] = [:]
        /// Polled inputs, by interval.
        var rosters: [Duration: PollRoster] = [:]
        var loops: [String: DeliveryLoop] = [:]
    }

    private enum LiveInput {
        case polled(interval: Duration, slot: Int)
        case service(slot: Int)
    }

    private init(group: ServiceGroup, view: PipelineView, context: Runtime.Context, memory: RuntimeMemory,
                 detection: DetectionService, spool: SpoolService, reporter: DeliveryReporter, status: StatusService,
                 gate: SampleGate?, origins: SeriesOrigins?,
                 sets: (inputs: ServiceSet, uplinks: ServiceSet, brokers: ServiceSet), parts: Parts) {
        self.group = group
        self.view = view
        self.context = context
        self.memory = memory
        self.detection = detection
        self.spool = spool
        self.reporter = reporter
        self.status = status
        self.gate = gate
        self.origins = origins
        (inputs, uplinks, brokers) = sets
        self.parts = Mutex(parts)
    }

    /// Builds every stage for `configuration`; nothing runs until `group` does. Throws a `StartupError` for what the
    /// operator must fix (the spool or status file refused).
    static func build(_ configuration: OutpostConfiguration, memory: RuntimeMemory, context: Runtime.Context)
        async throws -> LivePipeline
    {
        let logger = context.logger, clock = context.clock, wallClock = context.wallClock
        let counters = memory.counters
        let mqtt = MQTTConnections(brokers: configuration.mqtt.brokers, statusTopic: configuration.mqttStatusTopic)
        let allUplinks = try Runtime.checkedUplinks(of: configuration)
        let liveUplinks = try allUplinks.map { try $0.settings.makeUplink(context.uplinkResources(mqtt)) }
        try StatusFileGuard.check(configuration.status.path)
        let eventClock: any WallClock = configuration.sampleClock ?? wallClock
        let router = EventRouter(minSeverity: configuration.alerts.minSeverity,
                                 sendResolved: configuration.alerts.sendResolved,
                                 outputs: context.outputs(configuration), counters: counters,
                                 provisionalClock: configuration.sampleClock, clock: clock, logger: logger)
        let meteredLinks = MeteredLinks()
        let zone = SystemTimeZone(environment: context.environment)
        let spool = try await SpoolService.open(configuration.spool,
                                                destinations: Runtime.spoolDestinations(allUplinks),
                                                policy: Runtime.spoolPolicy(allUplinks), meteredLinks: meteredLinks,
                                                zone: { zone.rules(nowSeconds: $0 / 1_000_000_000) },
                                                events: router, counters: counters, clock: clock,
                                                wallClock: wallClock, eventClock: eventClock, logger: logger)
        let slots = ReloadPlan.inputKeys(configuration).map(memory.slot(for:))
        let view = PipelineView(.init(configuration: configuration, inputSlots: slots, uplinks: [], spool: spool))
        let alertDocuments = allUplinks.contains { $0.settings.accepts.contains(.alert) }
        let origins = configuration.inputs.contains { $0.report != nil } ? SeriesOrigins() : nil
        let batcher = context.makeBatcher(
            configuration, sink: spool, alerts: alertDocuments, counters: counters,
            reduction: reduction(configuration, uplinks: allUplinks, slots: slots, spool: spool, origins: origins),
            uplinks: { view.current.uplinks })
        router.connect(to: batcher)
        let reporter = DeliveryReporter(events: router, eventClock: eventClock, clock: clock)
        let detection = DetectionService(settings: detectionSettings(configuration, slots: slots, memory: memory),
                                          samples: batcher, events: router, counters: counters, clock: clock,
                                          wallClock: wallClock, logger: logger, resuming: memory.detection)
        let status = StatusService(view: view, counters: counters, clock: clock, wallClock: wallClock,
                                   logger: logger)
        let sets = (inputs: ServiceSet(name: "input", logger: logger),
                    uplinks: ServiceSet(name: "uplink", logger: logger),
                    brokers: ServiceSet(name: "broker", logger: logger))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: status)]
        if let metered = meteredLinkService(allUplinks, links: meteredLinks, context: context) {
            // Before the uplinks, so the first look has been taken before anything is sent (until then a link counts
            // as metered).
            await metered.look()
            services.append(.init(service: metered))
        }
        services += [.init(service: sets.brokers), .init(service: sets.uplinks)]
        // Only delivery loops report to it: without uplinks it would only wake every 5 s for nothing.
        if !allUplinks.isEmpty { services.append(.init(service: reporter)) }
        services += [.init(service: spool), .init(service: batcher), .init(service: router),
                     .init(service: detection), .init(service: sets.inputs)]
        var groupConfiguration = ServiceGroupConfiguration(services: services, logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(20)
        let gate = configuration.sampleClock.map { SampleGate(clock: $0, inputCount: slots.count, logger: logger) }
        let pipeline = LivePipeline(
            group: ServiceGroup(configuration: groupConfiguration), view: view, context: context, memory: memory,
            detection: detection, spool: spool, reporter: reporter, status: status, gate: gate, origins: origins,
            sets: sets,
            parts: Parts(configuration: configuration, mqtt: mqtt))
        pipeline.addInputs(ReloadPlan.inputKeys(configuration), of: configuration, mqtt: mqtt)
        for (configured, uplink) in zip(allUplinks, liveUplinks) { pipeline.addUplink(configured, uplink) }
        pipeline.addBrokers(mqtt, except: [])
        return pipeline
    }

    /// Every series' latest value, asked of detection in order with the readings.
    func latestValues() async -> [(series: Series, value: Double?)] {
        await detection.latestValues() ?? []
    }

    // MARK: - Reload in place

    /// Applies `plan` (which needs no pipeline restart) to move the running pipeline to `new`. Everything new is built
    /// before anything stops, so a part that cannot be built leaves the pipeline as it was (and throws).
    func apply(_ plan: ReloadPlan, to new: OutpostConfiguration) async throws {
        let old = parts.withLock { $0 }
        // Clients of unchanged brokers are kept; a changed or new broker gets a new client.
        let mqtt = MQTTConnections(brokers: new.mqtt.brokers, statusTopic: new.mqttStatusTopic,
                                   adopting: old.mqtt.created.filter { !plan.changedBrokers.contains($0.name) })
        let restartedUplinks = Runtime.uplinks(of: new).filter { plan.changedUplinks.contains($0.name) }
        let builtUplinks = try restartedUplinks.map { try $0.settings.makeUplink(context.uplinkResources(mqtt)) }
        let stopping = plan.removedInputs + plan.changedInputs
        for key in stopping { await stopInput(key) }
        for name in plan.changedUplinks { await uplinks.stop("uplink \(name)") }
        // Their users have stopped: the connections of changed and removed brokers go now.
        for name in plan.changedBrokers { await brokers.stop("broker \(name)") }
        let keys = ReloadPlan.inputKeys(new)
        let slots = keys.map(memory.slot(for:))
        if plan.detectionChanged || !plan.addedInputs.isEmpty || !plan.removedInputs.isEmpty
            || !plan.changedInputs.isEmpty
        {
            // Before the new inputs start, so their first readings find their sources; in order with the readings.
            await detection.reconfigure(Self.detectionSettings(new, slots: slots, memory: memory))
        }
        parts.withLock { $0.configuration = new; $0.mqtt = mqtt }
        addInputs(plan.addedInputs + plan.changedInputs, of: new, mqtt: mqtt)
        for (configured, uplink) in zip(restartedUplinks, builtUplinks) { addUplink(configured, uplink) }
        addBrokers(mqtt, except: Set(old.mqtt.created.map(\.name)).subtracting(plan.changedBrokers))
        let loops = parts.withLock { parts in Runtime.uplinks(of: new).compactMap { parts.loops[$0.name] } }
        view.update { state in
            state.configuration = new
            state.inputSlots = slots
            state.uplinks = loops
        }
        // At once, so `outpost status` shows the new inputs without waiting for the next interval.
        status.write()
    }

    // MARK: - Inputs

    /// Builds the inputs named by `keys` and starts them: polled ones join the roster of their interval (a new
    /// poll group for a new interval), the others run as services of their own.
    private func addInputs(_ keys: [String], of configuration: OutpostConfiguration, mqtt: MQTTConnections) {
        let wanted = Set(keys)
        let resources = context.inputResources(configuration, mqtt: mqtt)
        var newRosters: [Duration: PollRoster] = [:]
        let keyed = zip(ReloadPlan.inputKeys(configuration), configuration.inputs)
        for (key, configured) in keyed where wanted.contains(key) {
            let slot = memory.slot(for: key)
            let label = "\(configured.kind) \(configured.settings.name)"
            let input: any Input
            do {
                input = try configured.settings.makeInput(resources)
            } catch {
                context.logger.error("input not started: \(label): \(error)")
                continue
            }
            if let polled = input as? any Pollable {
                let member = PollGroup.Member(input: slot, label: label, poller: polled.makePoller())
                let interval = polled.pollInterval
                let (roster, running) = parts.withLock { parts -> (PollRoster, Bool) in
                    parts.inputs[key] = .polled(interval: interval, slot: slot)
                    if let roster = parts.rosters[interval] { return (roster, newRosters[interval] == nil) }
                    let roster = PollRoster([])
                    parts.rosters[interval] = roster
                    return (roster, false)
                }
                if !running { newRosters[interval] = roster }
                // A group about to start logs its members itself.
                if running { context.logger.info("input started: \(label)") }
                roster.replace(with: roster.members + [member])
                continue
            }
            parts.withLock { $0.inputs[key] = .service(slot: slot) }
            let door: any ReadingSink = origins.map {
                OriginRecordingSink(input: slot, origins: $0, next: detection.door(forInput: slot))
            } ?? detection.door(forInput: slot)
            let service = InputService(input: input, label: label, sink: GatedSink(index: slot, next: door, gate: gate),
                                       logger: context.logger)
            inputs.add("input \(slot)", service)
        }
        for (interval, roster) in newRosters.sorted(by: { $0.key < $1.key }) {
            let sink: any ReadingBatchSink = origins.map {
                OriginRecordingBatchSink(origins: $0, next: detection.batchDoor)
            } ?? detection.batchDoor
            inputs.add("poll \(interval)", PollGroup(interval: interval, roster: roster, sink: sink,
                                                     gate: gate, clock: context.clock,
                                                     wallClock: configuration.sampleClock ?? context.wallClock,
                                                     logger: context.logger))
        }
    }

    /// Stops input `key`: a polled one leaves its roster (its poll group stops when it was the last), another one's
    /// service is shut down.
    private func stopInput(_ key: String) async {
        guard let live = parts.withLock({ $0.inputs.removeValue(forKey: key) }) else { return }
        switch live {
        case .polled(let interval, let slot):
            let emptied = parts.withLock { parts -> Bool in
                guard let roster = parts.rosters[interval] else { return false }
                roster.replace(with: roster.members.filter { $0.input != slot })
                guard roster.members.isEmpty else { return false }
                parts.rosters[interval] = nil
                return true
            }
            context.logger.info("input stopped: \(key)")
            if emptied { await inputs.stop("poll \(interval)") }
        case .service(let slot):
            await inputs.stop("input \(slot)")
        }
    }

    // MARK: - Uplinks and brokers

    private func addUplink(_ configured: ConfiguredUplink, _ uplink: any Uplink) {
        let name = configured.name, endpoint = configured.endpoint, reporter = self.reporter
        let loop = DeliveryLoop(
            uplink: uplink, endpoint: endpoint, kind: configured.kind, queue: spool,
            signal: spool.wakeSignals[name] ?? WakeSignal(), settings: configured.settings.delivery,
            clock: context.clock, wallClock: context.wallClock
        ) { report in
            reporter.report(report, uplink: name, endpoint: endpoint)
        }
        parts.withLock { $0.loops[name] = loop }
        view.update { state in
            state.uplinks.removeAll { $0.uplink.name == name }
            state.uplinks.append(loop)
        }
        uplinks.add("uplink \(name)", UplinkService(loop: loop, configured: configured, logger: context.logger))
    }

    /// One service per broker client in use (except those already running): it connects, announces `online`, and
    /// disconnects last.
    private func addBrokers(_ mqtt: MQTTConnections, except running: Set<String>) {
        for (name, client) in mqtt.created where !running.contains(name) {
            brokers.add("broker \(name)", MQTTBrokerService(name: name, client: client, statusTopic: mqtt.statusTopic,
                                                          logger: context.logger))
        }
    }

    // MARK: - Detection

    /// Detection's settings by input slot: every slot this process has given out, the gone ones without an input
    /// number (detection forgets their series).
    private static func detectionSettings(_ configuration: OutpostConfiguration, slots: [Int], memory: RuntimeMemory)
        -> DetectionServiceSettings
    {
        var sources = Array(repeating: SampleSource(), count: memory.slotCount)
        var names = Array(repeating: "", count: memory.slotCount)
        for (slot, input) in zip(slots, configuration.inputs) {
            sources[slot] = SampleSource(patch: input.source.patch, interval: input.source.interval, input: slot)
            names[slot] = "\(input.kind) \(input.settings.name)"
        }
        return DetectionServiceSettings(detection: configuration.detection, sources: sources, inputNames: names,
                                        problemInterval: configuration.log.problemInterval,
                                        readingsInterval: configuration.log.readingsInterval)
    }
}
