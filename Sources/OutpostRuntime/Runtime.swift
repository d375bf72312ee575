import AsyncAlgorithms
import Logging
import OutpostCore
import OutpostInputs
import ServiceLifecycle

/// Wires a validated configuration into services and runs them until SIGINT or SIGTERM.
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

    /// Runs until a shutdown signal. Services are listed sinks first: ServiceGroup shuts down in reverse order,
    /// so the inputs stop first and detection drains what they sent before it returns.
    public func run(logger: Logger) async throws {
        let group = ServiceGroup(configuration: groupConfiguration(logger: logger))
        try await group.run()
    }

    func groupConfiguration(logger: Logger) -> ServiceGroupConfiguration {
        let channel = AsyncChannel<PipelineMessage>()
        var outputs: [any EventOutput] = [LogEventOutput(logger: logger)] + extraOutputs
        if configuration.alerts.stdout { outputs.append(StdoutAlertOutput(gateway: configuration.gateway.id)) }
        let detection = DetectionService(configuration: configuration, channel: channel, outputs: outputs,
                                         clock: clock, wallClock: wallClock, logger: logger)
        var services = [ServiceGroupConfiguration.ServiceConfiguration(service: detection)]
        for (index, configured) in configuration.inputs.enumerated() {
            let service = InputService(configured: configured, sink: InputSink(index: index, channel: channel),
                                       logger: logger)
            services.append(.init(service: service, successTerminationBehavior: .ignore,
                                  failureTerminationBehavior: .ignore))
        }
        var group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                              cancellationSignals: [], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(10)
        return group
    }
}
