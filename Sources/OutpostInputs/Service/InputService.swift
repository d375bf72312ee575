import Logging
import OutpostCore
import ServiceLifecycle

/// Runs one input as a service. Its errors are logged and end only this input; the others keep going.
package struct InputService: Service, CustomStringConvertible {
    // ServiceLifecycle describes each service it is given; the default description reflects every stored
    // property (for a poll group of 2,000 inputs, 2 MiB of text at start).
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
