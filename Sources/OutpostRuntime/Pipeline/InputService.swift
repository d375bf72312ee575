import Logging
import OutpostCore
import ServiceLifecycle

/// Runs one input as a service. Its errors are logged and end only this input; the others keep going.
struct InputService: Service {
    let configured: ConfiguredInput
    let sink: InputSink
    let logger: Logger

    func run() async throws {
        let label = "\(configured.kind) \(configured.input.name)"
        logger.info("input started: \(label)")
        do {
            try await cancelWhenGracefulShutdown {
                try await configured.input.run(into: sink)
            }
            logger.info("input finished: \(label)")
        } catch is CancellationError {
            logger.debug("input stopped: \(label)")
        } catch {
            logger.error("input failed: \(label): \(error)")
        }
    }
}
