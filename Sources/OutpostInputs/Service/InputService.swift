import Logging
import OutpostCore
import ServiceLifecycle

/// Runs one input as a service. Its errors are logged and end only this input; the others keep going.
package struct InputService: Service, CustomStringConvertible {
    // One line for ServiceLifecycle's log, not a reflection of every stored property (see `PollGroup`).
    package var description: String { "InputService(\(label))" }

    package let input: any Input
    /// `<kind> <name>`, for the log.
    package let label: String
    package let sink: any ReadingSink
    package let logger: Logger

    package init(input: any Input, label: String, sink: any ReadingSink, logger: Logger) {
        self.input = input
        self.label = label
        self.sink = sink
        self.logger = logger
    }

    package func run() async throws {
        logger.info("input started: \(label)")
        do {
            try await cancelWhenGracefulShutdown {
                try await input.run(into: sink)
            }
            logger.info("input finished: \(label)")
        } catch is CancellationError {
            logger.debug("input stopped: \(label)")
        } catch {
            logger.error("input failed: \(label): \(error)")
        }
    }
}
