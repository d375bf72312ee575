import Foundation
import Logging
@testable import OutpostOperations
import Testing

/// What a test runtime answers: fixed health, metrics and status.
struct FixedRuntime: OperatedRuntime {
    var healthy = true

    func statusDocument() -> String { "{\"schema\":\"outpost.status.v1\"}\n" }

    func health() -> ComponentHealth {
        let part = ComponentHealth(healthy: healthy, status: healthy ? .ok : .recoverableError,
                                   lastError: healthy ? "" : "connection refused", startTime: 0,
                                   statusTime: 1_000_000_000)
        return .aggregate([("uplink:collector", part)], startTime: 0, now: 1_000_000_000)
    }

    func metrics(series: Bool) async -> [MetricFamily] {
        [MetricFamily("outpost_samples_ingested_total", .counter, help: "Samples.", samples: [.init(value: 42)])]
            + (series ? [MetricFamily("outpost_series_value", .gauge, help: "Latest.",
                                      samples: [.init(labels: [.init("series", "a\"b\\c\nd")], value: 1.5)])] : [])
    }

    func effectiveConfiguration() -> EffectiveConfiguration { EffectiveConfiguration(text: "", origin: "", hash: "") }
    func reload(text: String, origin: String) async -> RemoteReloadOutcome { .unchanged }
    func agentFacts() -> AgentFacts { AgentFacts(identifying: [], nonIdentifying: []) }
}

/// `exchangeBlocking` on a thread of its own: the server answers on the cooperative pool, which a test blocking one
/// of its (two, on a 2-core machine) threads while other suites run could starve.
func exchange(port: Int, _ request: [UInt8], closeAfterSending: Bool = true) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result {
                try exchangeBlocking(port: port, request, closeAfterSending: closeAfterSending)
            })
        }.start()
    }
}

/// One request on a raw socket (so malformed and partial heads can be sent), and the whole answer.
func exchangeBlocking(port: Int, _ request: [UInt8], closeAfterSending: Bool) throws -> String {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
    if closeAfterSending { shutdown(descriptor, Int32(SHUT_WR)) }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { break }
        answer += buffer[..<count]
    }
    return String(decoding: answer, as: UTF8.self)
}

@Suite("The local endpoint: a minimal HTTP server on a thread of its own", .serialized)
struct EndpointTests {
    func endpoint(healthy: Bool = true) throws -> HTTPEndpoint {
        var configuration = HTTPEndpointConfiguration()
        configuration.listen = ("127.0.0.1", 0)
        return try #require(try HTTPEndpoint.bind(configuration, runtime: FixedRuntime(healthy: healthy),
                                                   logger: .init(label: "test")))
    }

    @Test("/health answers 200 or 503 with the Collector's JSON, /metrics the text format, unknown paths 404")
    func routes() async throws {
        for healthy in [true, false] {
            let server = try endpoint(healthy: healthy).server
            server.start()
            let health = try await exchange(port: server.port, Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(health.hasPrefix(healthy ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 503 Service Unavailable\r\n"))
            #expect(health.contains("Content-Type: application/json\r\n") && health.contains("Connection: close\r\n"))
            #expect(health.contains("\"healthy\":\(healthy)"))
            #expect(health.contains("\"components\":{\"uplink:collector\":"))
            if !healthy { #expect(health.contains("\"error\":\"uplink:collector: connection refused\"")) }
            let missing = try await exchange(port: server.port, Array("GET /nope HTTP/1.1\r\n\r\n".utf8))
            #expect(missing.hasPrefix("HTTP/1.1 404 "))
            let post = try await exchange(port: server.port, Array("POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n".utf8))
            #expect(post.hasPrefix("HTTP/1.1 405 "))
            await server.stop()
        }
    }

    @Test("/metrics?series=1 adds the series, labels escaped as the text format says; HEAD has no body")
    func metrics() async throws {
        let server = try endpoint().server
        server.start()
        let plain = try await exchange(port: server.port, Array("GET /metrics HTTP/1.1\r\n\r\n".utf8))
        #expect(plain.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(plain.hasSuffix("# HELP outpost_samples_ingested_total Samples.\n"
            + "# TYPE outpost_samples_ingested_total counter\noutpost_samples_ingested_total 42\n"))
        let series = try await exchange(port: server.port, Array("GET /metrics?series=1 HTTP/1.1\r\n\r\n".utf8))
        #expect(series.contains("outpost_series_value{series=\"a\\\"b\\\\c\\nd\"} 1.5\n"))
        let head = try await exchange(port: server.port, Array("HEAD /metrics HTTP/1.1\r\n\r\n".utf8))
        #expect(head.hasPrefix("HTTP/1.1 200 OK") && head.hasSuffix("\r\n\r\n"))
        await server.stop()
    }

    @Test("a malformed head is answered and closed; a client that sends half a head and waits is dropped after the timeout")
    func hostileClients() async throws {
        let server = try endpoint().server
        server.start()
        let bad = try await exchange(port: server.port, Array("GET /a HTTP/7.0\r\n\r\n".utf8))
        #expect(bad.hasPrefix("HTTP/1.1 505 "))
        let huge = try await exchange(port: server.port, Array(("GET / HTTP/1.1\r\n" + String(repeating: "A: b\r\n", count: 3000)).utf8))
        #expect(huge.hasPrefix("HTTP/1.1 431 "))
        let started = ContinuousClock.now
        let stalled = try await exchange(port: server.port, Array("GET /health HTTP/1.1\r\n".utf8), closeAfterSending: false)
        #expect(stalled.isEmpty, "closed without an answer")
        #expect(ContinuousClock.now - started >= HTTPServer.requestTimeout - .milliseconds(100))
        // The server is still there for the next one.
        #expect(try await exchange(port: server.port, Array("GET /health HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 200"))
        await server.stop()
    }

    @Test("a bad listen address is an error at bind, naming the address")
    func badAddress() {
        #expect(HTTPEndpointConfiguration.parse("127.0.0.1:99999") == nil)
        #expect(HTTPEndpointConfiguration.parse("[::1]:9464")?.host == "::1")
        #expect(throws: HTTPServerError.self) { try HTTPServer(host: "gateway.example", port: 9464) { _ in HTTPResponse(status: 200, body: "") } }
    }
}
