import Foundation
import OutpostCore
import OutpostTestSupport
import Synchronization
import Testing
@testable import OutpostUplinks
@testable import OutpostWire

let temperature = Series(name: "greenhouse.temperature", unit: "Cel", attributes: ["sensor.id": .string("28-01")])

func metricsBatch(_ values: [Double], encoding: OTLPEncoding = .protobuf, start: Int64 = 1_000_000_000) throws -> Batch {
    let builder = BatchBuilder(encoder: OTLPEncoder(resource: ["service.name": .string("outpost")]),
                               format: BatchFormat(encoding: encoding))
    let samples = values.enumerated().map { Sample(series: temperature, time: start + Int64($0.offset) * 1_000_000_000,
                                                   value: $0.element) }
    return try builder.metricsBatches(samples, now: start) { _ in 0 }[0]
}

func alertBatch(_ message: String) throws -> Batch {
    let builder = BatchBuilder(encoder: OTLPEncoder(resource: [:]), format: BatchFormat())
    let event = Event(name: .anomalyRaised, severity: .warn, time: 5_000_000_000, series: temperature, message: message)
    return try builder.logsBatches([event], lane: .alerts, now: 5_000_000_000)[0]
}

func uplink(_ endpoint: String, timeout: Duration = .seconds(5), tls: TLSSettings = TLSSettings(),
            encoding: OTLPEncoding = .protobuf, headers: [(String, String)] = [],
            warnings: Collected? = nil) -> OTLPHTTPUplink {
    var configuration = OTLPHTTPUplinkConfiguration(metricsURL: endpoint + "/v1/metrics",
                                                    logsURL: endpoint + "/v1/logs", encoding: encoding)
    configuration.timeout = timeout
    configuration.tls = tls
    configuration.headers = headers
    return OTLPHTTPUplink(configuration: configuration) { message in warnings?.append(message) }
}

/// Walks decoded JSON by keys and array positions.
func json(_ value: Any?, _ path: Any...) -> Any? {
    var current = value
    for step in path {
        if let key = step as? String { current = (current as? [String: Any])?[key] }
        if let index = step as? Int {
            guard let array = current as? [Any], array.indices.contains(index) else { return nil }
            current = array[index]
        }
    }
    return current
}

/// Strings collected from another thread.
final class Collected: Sendable {
    private let items = Mutex<[String]>([])
    var all: [String] { items.withLock { $0 } }
    func append(_ item: String) { items.withLock { $0.append(item) } }
}

@Suite("OTLP/HTTP uplink against a real receiver", .serialized)
struct OTLPHTTPUplinkTests {
    @Test("a 200 delivers: POST /v1/metrics, x-protobuf, gzip, headers; the receiver decodes every point")
    func delivers() async throws {
        let server = try OTLPServer()
        let result = await uplink(server.endpoint, headers: [("Authorization", "Bearer s3cret")])
            .deliver(try metricsBatch([21.5, 22.0]))
        #expect(result == .delivered)
        let request = try #require(try server.received().first)
        #expect(request["path"] as? String == "/v1/metrics")
        #expect(request["content_type"] as? String == "application/x-protobuf")
        #expect(request["content_encoding"] as? String == "gzip")
        #expect(request["authorization"] as? String == "Bearer s3cret")
        #expect((request["user_agent"] as? String)?.hasPrefix("outpost/") == true)
        let points = json(request, "request", "resource_metrics", 0, "scope_metrics", 0, "metrics", 0, "gauge",
                          "data_points") as? [[String: Any]]
        #expect(points?.map { $0["as_double"] as? Double } == [21.5, 22.0])
    }

    @Test("events go to /v1/logs; an uplink set to JSON sends OTLP/JSON the receiver parses with the schema")
    func logsAsJSON() async throws {
        let server = try OTLPServer()
        let batch = try alertBatch("spike")
        let delivered = await uplink(server.endpoint, encoding: .json).deliver(batch)
        #expect(delivered == .delivered)
        let request = try #require(try server.received().first)
        #expect(request["path"] as? String == "/v1/logs")
        #expect(request["content_type"] as? String == "application/json")
        let record = json(request, "request", "resource_logs", 0, "scope_logs", 0, "log_records", 0) as? [String: Any]
        #expect(record?["event_name"] as? String == "outpost.anomaly.raised")
    }

    @Test("503 with Retry-After: 2 is retried after 2 s")
    func retryAfterSeconds() async throws {
        let server = try OTLPServer()
        try server.script([["status": 503, "headers": ["Retry-After": "2"]]])
        let batchResult = try metricsBatch([1])
        let result = await uplink(server.endpoint).deliver(batchResult)
        guard case .retry(let after, let reason) = result else { Issue.record("\(result)"); return }
        #expect(after == .seconds(2))
        #expect(reason.contains("HTTP 503"))
    }

    @Test("429 with an HTTP-date Retry-After waits until that date, read against the response's Date")
    func retryAfterDate() async throws {
        let server = try OTLPServer()
        // The receiver's clock reads 2023-11-14T22:13:20Z and it says retry at 22:13:50; the gateway's clock is not
        // asked (it may be years off).
        try server.script([["status": 429, "headers": ["Retry-After": "Tue, 14 Nov 2023 22:13:50 GMT",
                                                       "Date": "Tue, 14 Nov 2023 22:13:20 GMT"]]])
        let batchResult = try metricsBatch([1])
        let result = await uplink(server.endpoint).deliver(batchResult)
        #expect(result == .retry(after: .seconds(30), reason: "HTTP 429"))
    }

    @Test("503 with a Retry-After in year 9999, year 0 or nonsense: no crash; ignored or capped; one warning per value",
          arguments: ["Fri, 31 Dec 9999 23:59:59 GMT", "Sat, 01 Jan 0000 00:00:00 GMT", "soon"])
    func hostileRetryAfter(value: String) async throws {
        let server = try OTLPServer()
        let answer: [String: Any] = ["status": 503, "headers": ["Retry-After": value]]
        try server.script([answer, answer])
        let warnings = Collected()
        let client = uplink(server.endpoint, warnings: warnings)
        for number in [1, 2] {
            let result = await client.deliver(try metricsBatch([Double(number)]))
            guard case .retry(let after, let reason) = result else { Issue.record("\(result)"); return }
            #expect(reason == "HTTP 503")
            if value.contains("9999") {
                #expect(after.map { $0 > .seconds(3600) } == true, "far in the future: the policy caps it")
            } else {
                #expect(after == nil, "unusable: the normal backoff applies")
            }
        }
        #expect(warnings.all.count == (value.contains("9999") ? 0 : 1), "\(warnings.all)")
        #expect(warnings.all.allSatisfy { $0.contains("ignored") })
    }

    @Test("502 and 504 are retried; 400, 401, 404 and 500 are permanent", arguments: [
        (502, true), (504, true), (400, false), (401, false), (404, false), (500, false),
    ])
    func statusClasses(status: Int, retryable: Bool) async throws {
        let server = try OTLPServer()
        try server.script([["status": status, "body": "nope"]])
        let batchResult = try metricsBatch([1])
        let result = await uplink(server.endpoint).deliver(batchResult)
        switch result {
        case .retry: #expect(retryable)
        case .rejected(let reason):
            #expect(!retryable)
            #expect(reason == "HTTP \(status): nope")
        case .delivered, .partiallyDelivered: Issue.record("HTTP \(status) must not count as delivered")
        }
    }

    @Test("a refused connection is retried, with no Retry-After")
    func connectionRefused() async throws {
        let batchResult = try metricsBatch([1])
        let result = await uplink("http://127.0.0.1:\(freeLoopbackPort())").deliver(batchResult)
        guard case .retry(let after, let reason) = result else { Issue.record("\(result)"); return }
        #expect(after == nil)
        #expect(reason.contains("cannot reach"))
    }

    @Test("a receiver slower than the timeout is a retryable failure, and the uplink does not hang")
    func slowReceiver() async throws {
        let server = try OTLPServer()
        try server.script([["delay": 3]])
        let start = ContinuousClock.now
        let batchResult = try metricsBatch([1])
        let result = await uplink(server.endpoint, timeout: .milliseconds(500)).deliver(batchResult)
        #expect(ContinuousClock.now - start < .seconds(3))
        guard case .retry(_, let reason) = result else { Issue.record("\(result)"); return }
        #expect(reason.lowercased().contains("timed out") || reason.lowercased().contains("timeout"))
    }

    @Test("a 200 with partial_success is delivered, not retried, and logged")
    func partialSuccess() async throws {
        let server = try OTLPServer()
        try server.script([["partial": "unit Cel not allowed"]])
        let warnings = Collected()
        let batch = try metricsBatch([1])
        let delivered = await uplink(server.endpoint, warnings: warnings).deliver(batch)
        #expect(delivered == .delivered)
        let logged = warnings.all
        #expect(logged.count == 1)
        #expect(logged.first?.contains("1 data points rejected: unit Cel not allowed") == true)
    }
}

@Suite("OTLP/HTTP over TLS with a CA made by the test", .serialized)
struct OTLPHTTPTLSTests {
    @Test("refused without the CA (verification is on by default), accepted with ca_file")
    func customCA() async throws {
        let files = try TestCertificates()
        let server = try OTLPServer(certificate: files.serverCertificate, key: files.serverKey)
        let batchRefused = try metricsBatch([1])
        let refused = await uplink(server.endpoint).deliver(batchRefused)
        guard case .retry(_, let reason) = refused else { Issue.record("\(refused)"); return }
        #expect(reason.lowercased().contains("certificate") || reason.lowercased().contains("ssl"))
        #expect(try server.received().isEmpty)
        let batchAccepted = try metricsBatch([2])
        let accepted = await uplink(server.endpoint, tls: TLSSettings(caFile: files.ca)).deliver(batchAccepted)
        #expect(accepted == .delivered)
        #expect(try server.received().count == 1)
    }

    @Test("mutual TLS: a receiver that requires a client certificate accepts client_certificate and client_key")
    func mutualTLS() async throws {
        let files = try TestCertificates()
        let server = try OTLPServer(certificate: files.serverCertificate, key: files.serverKey, clientCA: files.ca)
        let batchWithout = try metricsBatch([1])
        let without = await uplink(server.endpoint, tls: TLSSettings(caFile: files.ca)).deliver(batchWithout)
        guard case .retry = without else { Issue.record("\(without)"); return }
        let tls = TLSSettings(caFile: files.ca, clientCertificate: files.clientCertificate, clientKey: files.clientKey)
        let batchWith = try metricsBatch([2])
        let with = await uplink(server.endpoint, tls: tls).deliver(batchWith)
        #expect(with == .delivered, "the receiver answers 200 only after decoding the batch")
    }

    @Test("insecure_skip_verify = true accepts an unknown CA")
    func insecure() async throws {
        let files = try TestCertificates()
        let server = try OTLPServer(certificate: files.serverCertificate, key: files.serverKey)
        let batchResult = try metricsBatch([1])
        let result = await uplink(server.endpoint, tls: TLSSettings(insecureSkipVerify: true)).deliver(batchResult)
        #expect(result == .delivered)
    }
}

@Suite("HTTP dates and Retry-After")
struct RetryAfterTests {
    static let serverDate = "Sun, 06 Nov 1994 08:49:37 GMT"

    @Test("the three HTTP-date forms", arguments: [
        "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
    ])
    func dates(text: String) {
        #expect(HTTPDate.unixSeconds(text) == 784_111_777)
    }

    @Test("seconds, a date read against the server's Date, a date in the past")
    func values() {
        #expect(RetryAfter.parse(" 120 ", serverDate: nil) == .delay(.seconds(120)))
        #expect(RetryAfter.parse("0", serverDate: nil) == .delay(.zero))
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:50:07 GMT", serverDate: Self.serverDate) == .delay(.seconds(30)))
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 07:49:37 GMT", serverDate: Self.serverDate) == .delay(.zero))
        #expect(RetryAfter.parse("99999999999999999999999", serverDate: nil) == .delay(.seconds(RetryAfter.longest)))
    }

    @Test("values that cannot be read safely are unusable, never a trap", arguments: [
        "soon", "-5", "+5", "1.5", "", "Sat, 01 Jan 0000 00:00:00 GMT", "Sat, 01 Jan 99999999999 00:00:00 GMT",
        "Sat, 01 Jan -99999999999999 00:00:00 GMT", "Saturday, 01-Jan-99999999999 00:00:00 GMT",
        "Sat Jan  1 00:00:00 99999999999", "Sun, 06 Nov 1994 99:99:99 GMT", "Sun, 06 Nov 1994 -1:00:00 GMT",
        "Sun, 99 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
        String(repeating: "9", count: 100_000),
    ])
    func unusable(value: String) {
        guard case .unusable = RetryAfter.parse(value, serverDate: Self.serverDate) else {
            Issue.record("`\(value.prefix(60))` was taken as a delay")
            return
        }
    }

    @Test("an HTTP-date without a usable Date header is not read against the gateway's clock")
    func withoutServerDate() {
        let date = "Fri, 31 Dec 9999 23:59:59 GMT"
        #expect(RetryAfter.parse(date, serverDate: nil) != .delay(.zero))
        guard case .unusable = RetryAfter.parse(date, serverDate: nil) else {
            Issue.record("read without a Date")
            return
        }
        guard case .unusable = RetryAfter.parse(date, serverDate: "yesterday") else { Issue.record("bad Date"); return }
        guard case .delay(let far) = RetryAfter.parse(date, serverDate: Self.serverDate) else {
            Issue.record("year 9999 against a good Date")
            return
        }
        #expect(far > .seconds(240_000_000_000), "about 8,000 years, not an overflow")
    }
}
