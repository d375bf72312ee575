import Logging
import OutpostBatch
import OutpostCore
import OutpostDelivery
import OutpostSpool
import OutpostUplinks
import ServiceLifecycle

/// Runs one uplink's delivery loop as a service, until graceful shutdown.
struct UplinkService: Service, CustomStringConvertible {
    // ServiceLifecycle describes each service it is given; the default description reflects every stored
    // property (for a poll group of 2,000 inputs, 2 MiB of text at start).
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
