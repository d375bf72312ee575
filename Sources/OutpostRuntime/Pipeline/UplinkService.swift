import Logging
import OutpostBatch
import OutpostCore
import OutpostDelivery
import OutpostSpool
import OutpostUplinks
import ServiceLifecycle

/// Runs one uplink's delivery loop as a service, until graceful shutdown.
struct UplinkService: Service, CustomStringConvertible {
    // One line for ServiceLifecycle's log, not a reflection of every stored property (see `PollGroup`).
    var description: String { "UplinkService(\(configured.name))" }

    let loop: DeliveryLoop
    let configured: ConfiguredUplink
    let logger: Logger

    func run() async throws {
        logger.info("uplink started: \(configured.kind) \(configured.name) → \(configured.endpoint)")
        for warning in configured.settings.startupWarnings { logger.warning("\(warning)") }
        await cancelWhenGracefulShutdown {
            await loop.run()
        }
        logger.info("uplink stopped: \(configured.name)")
    }
}
