import Foundation
import OutpostCore
import OutpostTestSupport
import Testing

@testable import OutpostUplinks
@testable import OutpostWire

/// Answers that are not what they seem, from a real HTTP server: a captive portal's page, a redirect, a kept-alive
/// connection dropped by a NAT box, a request size limit, a CA rotated on disk.
@Suite("OTLP/HTTP answers that lie", .serialized)
struct OTLPHTTPAnswersTests {
    @Test("a 200 with a captive portal's HTML page keeps the batch: retried, and delivered once the receiver answers")
    func captivePortal() async throws {
        let server = try OTLPServer()
        try server.script([["status": 200, "content_type": "text/html",
                            "body": "<!DOCTYPE html><html><body>Please log in to Hotel WiFi</body></html>"]])
        let uplink = uplink(server.endpoint)
        let batch = try metricsBatch([1, 2, 3])
        let first = await uplink.deliver(batch)
        guard case .retry(_, let reason) = first else {
            Issue.record("a portal page is not a delivery: \(first)")
            return
        }
        #expect(reason.contains("text/html") && reason.contains("captive portal"), "\(reason)")
        #expect(await uplink.deliver(batch) == .delivered)
        #expect(try server.received().count == 1)
    }

    @Test("a 3xx redirect keeps the batch (retried), naming where it pointed")
    func redirect() async throws {
        let server = try OTLPServer()
        try server.script([["status": 302, "headers": ["Location": "http://portal.example/login"]]])
        let uplink = uplink(server.endpoint)
        let batch = try metricsBatch([1])
        let first = await uplink.deliver(batch)
        guard case .retry(_, let reason) = first else {
            Issue.record("a redirect must not drop the batch: \(first)")
            return
        }
        #expect(reason.contains("HTTP 302 redirect to http://portal.example/login"), "\(reason)")
        #expect(await uplink.deliver(batch) == .delivered)
    }

    @Test("a 200 whose declared protobuf body does not decode is not a delivery")
    func undecodableBody() {
        let answer = OTLPHTTPUplink.notOTLP(Array("<html>".utf8) + [0xff, 0x00],
                                            headers: [("content-type", "application/x-protobuf")], signal: .metrics)
        #expect(answer != nil)
        #expect(OTLPHTTPUplink.notOTLP([], headers: [("content-type", "text/html")], signal: .metrics) == nil,
                "an empty body is what many receivers send")
        #expect(OTLPHTTPUplink.notOTLP(Array("ok".utf8), headers: [("content-type", "text/plain")], signal: .logs) == nil)
    }

    @Test("a kept-alive connection a NAT box forgot (the request times out unanswered) is retried on a fresh one")
    func forgottenKeepAlive() async throws {
        let server = try OTLPServer()
        let uplink = uplink(server.endpoint, timeout: .seconds(2))
        #expect(await uplink.deliver(try metricsBatch([1])) == .delivered)
        try server.script([["stall": true]])
        #expect(await uplink.deliver(try metricsBatch([2])) == .delivered)
        #expect(try server.received().count == 2)
        // A receiver that does not answer a fresh connection either is a failure.
        try server.script([["stall": true]])
        guard case .retry = await OutpostUplinksTests.uplink(server.endpoint, timeout: .seconds(1))
            .deliver(try metricsBatch([3]))
        else {
            Issue.record("a receiver that never answers is not a delivery")
            return
        }
    }

    @Test("a kept-alive connection the server resets under the next request is retried at once on a fresh connection")
    func droppedKeepAlive() async throws {
        let server = try OTLPServer()
        let uplink = uplink(server.endpoint)
        #expect(await uplink.deliver(try metricsBatch([1])) == .delivered)
        try server.script([["drop": true]])
        #expect(await uplink.deliver(try metricsBatch([2])) == .delivered)
        #expect(try server.received().count == 2)
    }

    @Test("413: the batch is halved until the receiver takes it, every point once; [batch] max_bytes is named")
    func tooLarge() async throws {
        let server = try OTLPServer()
        let values = (0..<2000).map { _ in Double.random(in: 0..<1000) }
        let batch = try metricsBatch(values)
        try server.limitBody(to: batch.payload.count / 3)
        let warnings = Collected()
        let uplink = uplink(server.endpoint, warnings: warnings)
        #expect(await uplink.deliver(batch) == .delivered)
        let points = try server.received().flatMap { request in
            try pointValues(request)
        }
        #expect(points.count == values.count)
        #expect(zip(points.sorted(), values.sorted()).allSatisfy { abs($0 - $1) < 1e-9 }, "every point, once")
        #expect(warnings.all.count == 1)
        #expect(warnings.all.first?.contains("[batch] max_bytes") == true)
        // The next batch of the same size is split before it is sent: no 413 first.
        let before = try server.received().count
        #expect(await uplink.deliver(try metricsBatch(values)) == .delivered)
        #expect(try server.received().count - before >= 3)
        #expect(warnings.all.count == 1, "one warning, not one per halving")
    }

    @Test("413 for a single point alone: only that point is dropped and reported; its batch's others arrive")
    func itemTooLarge() async throws {
        let server = try OTLPServer()
        try server.limitBody(to: 900)
        let builder = BatchBuilder(encoder: OTLPEncoder(resource: [:]), format: BatchFormat())
        let noise = (0..<3000).map { _ in UInt8.random(in: 65...90) }
        let big = Series(name: "c.big", unit: "1", kind: .gauge,
                         attributes: ["note": .string(String(decoding: noise, as: UTF8.self))])
        var samples = (0..<20).map { Sample(series: temperature, time: 1_000_000_000 + Int64($0), value: Double($0)) }
        samples.insert(Sample(series: big, time: 1_000_000_000, value: 1), at: 7)
        let batch = try builder.metricsBatches(samples, now: 1_000_000_000) { _ in 0 }[0]
        let result = await uplink(server.endpoint).deliver(batch)
        guard case .partiallyDelivered(let items, _, let reason) = result else {
            Issue.record("expected one point dropped, got \(result)")
            return
        }
        #expect(items == 1)
        #expect(reason.contains("data point of `c.big`") && reason.contains("HTTP 413"), "\(reason)")
        let points = try server.received().flatMap { try pointValues($0) }
        #expect(points.sorted() == (0..<20).map(Double.init))
    }

    @Test("a CA rotated on disk is used at the next connection, without a restart")
    func rotatedCA() async throws {
        let old = try TestCertificates(), new = try TestCertificates()
        let trusted = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString).pem").path
        try FileManager.default.copyItem(atPath: old.ca, toPath: trusted)
        let first = try OTLPServer(certificate: old.serverCertificate, key: old.serverKey)
        let uplink = uplink(first.endpoint, tls: TLSSettings(caFile: trusted))
        #expect(await uplink.deliver(try metricsBatch([1])) == .delivered)
        let port = first.port
        first.stop()
        // The fleet CA changes: a new one on disk (renamed over the old, as tools do), a receiver signed by it.
        let staged = trusted + ".new"
        try FileManager.default.copyItem(atPath: new.ca, toPath: staged)
        #expect(rename(staged, trusted) == 0)
        let second = try OTLPServer(port: port, certificate: new.serverCertificate, key: new.serverKey)
        #expect(await uplink.deliver(try metricsBatch([2])) == .delivered)
        #expect(try second.received().count == 1)
    }

    /// The values of every gauge point in one recorded request.
    private func pointValues(_ request: [String: Any]) throws -> [Double] {
        let body = request["request"] as? [String: Any]
        let resources = body?["resource_metrics"] as? [[String: Any]] ?? []
        return resources.flatMap { ($0["scope_metrics"] as? [[String: Any]]) ?? [] }
            .flatMap { ($0["metrics"] as? [[String: Any]]) ?? [] }
            .flatMap { (($0["gauge"] as? [String: Any])?["data_points"] as? [[String: Any]]) ?? [] }
            .compactMap { $0["as_double"] as? Double }
    }
}
