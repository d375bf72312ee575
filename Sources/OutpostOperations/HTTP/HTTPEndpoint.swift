import Logging
import ServiceLifecycle

/// The local HTTP endpoint (`[http] listen`): `GET /health`, `GET /metrics`, `GET /status`, read-only. It exists
/// only while `listen` is set: with it off, Outpost opens no socket and starts no thread for it.
package struct HTTPEndpoint: Service, CustomStringConvertible {
    package var description: String { "HTTPEndpoint(\(server.address):\(server.port))" }

    package let server: HTTPServer
    let configuration: HTTPEndpointConfiguration
    let logger: Logger

    /// Binds `[http] listen` now, so a bad or busy address stops the start (or a reload) with an error; nil when the
    /// endpoint is off. Serves once run.
    package static func bind(_ configuration: HTTPEndpointConfiguration, runtime: any OperatedRuntime,
                             logger: Logger) throws(HTTPServerError) -> HTTPEndpoint? {
        guard let listen = configuration.listen else { return nil }
        let seriesMetrics = configuration.seriesMetrics
        let server = try HTTPServer(host: listen.host, port: listen.port) { request in
            await Self.respond(to: request, runtime: runtime, seriesMetrics: seriesMetrics)
        }
        return HTTPEndpoint(server: server, configuration: configuration, logger: logger)
    }

    package func run() async throws {
        if !configuration.isLoopback {
            logger.warning("""
                [http] listen = \(server.address):\(server.port) is not a loopback address: anyone who can reach \
                this gateway can read its health, metrics and status
                """)
        }
        server.start()
        logger.info("http endpoint listening on \(server.address):\(server.port) (/health, /metrics, /status)")
        try? await gracefulShutdown()
        await server.stop()
        logger.info("http endpoint stopped")
    }

    static func respond(to request: HTTPRequestHead, runtime: any OperatedRuntime, seriesMetrics: Bool) async
        -> HTTPResponse
    {
        switch request.path {
        case "/health":
            let health = runtime.health()
            return HTTPResponse(status: health.healthy ? 200 : 503, contentType: "application/json",
                                body: health.json + "\n")
        case "/metrics":
            let series = seriesMetrics || request.query["series"] == "1"
            return HTTPResponse(status: 200, contentType: PrometheusText.contentType,
                                body: PrometheusText.render(await runtime.metrics(series: series)))
        case "/status":
            return HTTPResponse(status: 200, contentType: "application/json", body: runtime.statusDocument())
        case "/":
            return HTTPResponse(status: 200, body: "outpost: /health, /metrics (?series=1), /status\n")
        default:
            return HTTPResponse(status: 404, body: "not found; try /health, /metrics or /status\n")
        }
    }
}
