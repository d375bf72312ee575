import AsyncAlgorithms
import Logging
import OutpostCore
import OutpostInputs
import ServiceLifecycle

/// Wires a validated configuration into services and runs them until SIGINT or SIGTERM.
///
/// inputs ─► detection ─► outputs (stdout alerts, log)
///                 └────► batcher ─► spool (SQLite)        status file ◄─ counters, spool statistics
public struct Runtime: Sendable {
    public let configuration: OutpostConfiguration
    private let clock: any Clock<Duration>
    private let wallClock: any WallClock
    private let extraOutputs: [any EventOutput]

    public init(configuration: OutpostConfiguration, clock: any Clock<Duration> = ContinuousClock(),
                wallClock: any WallClock = SystemWallClock()) {
        self.init(configuration: configuration, clock: clock, wallClock: wallClock, extraOutputs: [])
    }

    init(configuration: OutpostConfiguration, clock: any Clock<Duration>, wallClock: any WallClock,
         extraOutputs: [any EventOutput]) {
        self.configuration = configuration
        self.clock = clock
        self.wallClock = wallClock
        self.extraOutputs = extraOutputs
    }

    /// Runs until a shutdown signal.
    public func run(logger: Logger) async throws {
        let group = ServiceGroup(configuration: try await groupConfiguration(logger: logger))
        try await group.run()
    }

    /// The services, listed sinks first: ServiceGroup shuts down in reverse order, so the inputs stop first,
    /// detection drains what they sent, the batcher flushes into the spool, and the spool closes last.
    func groupConfiguration(logger: Logger) async throws -> ServiceGroupConfiguration {
        let counters = RuntimeCounters(inputCount: configuration.inputs.count, startedAt: wallClock.nowNanos())
        let (internalEvents, internalContinuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        let spool = try await SpoolService.open(configuration.spool, uplinks: [], events: internalContinuation,
                                                counters: counters, clock: clock, wallClock: wallClock, logger: logger)
        let batcherChannel = AsyncChannel<BatcherMessage>()
        let batcher = BatcherService(configuration: configuration, channel: batcherChannel, spool: spool,
                                     counters: counters, clock: clock, wallClock: wallClock, logger: logger)
        let status = StatusService(configuration: configuration, counters: counters, spool: spool, clock: clock,
                                   wallClock: wallClock, logger: logger)
        let channel = AsyncChannel<PipelineMessage>()
        var outputs: [any EventOutput] = [LogEventOutput(logger: logger)] + extraOutputs
        if configuration.alerts.stdout { outputs.append(StdoutAlertOutput(gateway: configuration.gateway.id)) }
        let detection = DetectionService(configuration: configuration, channel: channel, outputs: outputs,
                                         batcher: batcherChannel, internalEvents: internalEvents, counters: counters,
                                         clock: clock, wallClock: wallClock, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: status), .init(service: spool), .init(service: batcher), .init(service: detection),
        ]
        for (index, configured) in configuration.inputs.enumerated() {
            let service = InputService(configured: configured, sink: InputSink(index: index, channel: channel),
                                       logger: logger)
            services.append(.init(service: service, successTerminationBehavior: .ignore,
                                  failureTerminationBehavior: .ignore))
        }
        var group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                              cancellationSignals: [], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(20)
        return group
    }
}
