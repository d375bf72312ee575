import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostDelivery

@Suite("Delivery reports never feed themselves")
struct DeliveryReporterTests {
    @Test("a receiver refusing everything: 100 refusals make one event, then one summary per minute")
    func refusals() async throws {
        let events = EventCollector()
        let reporter = DeliveryReporter(events: events, eventClock: ManualWallClock(), clock: ManualClock())
        let refused = Batch(id: "x", lane: .alerts, signal: .logs, format: .otlpProtobuf,
                            contentEncoding: .gzip, created: 0, items: 1, uncompressedBytes: 10, payload: [1])
        for _ in 0..<100 { reporter.report(.rejected(batch: refused, reason: "HTTP 401"), uplink: "otlp", endpoint: "e") }
        for _ in 0..<DropReports.windowSteps { reporter.step() }
        let received = await events.finish()
        #expect(received.count == 2, "\(received.map(\.message))")
        #expect(received.allSatisfy { $0.name == .spoolDropped })
        #expect(received.last?.attributes["outpost.spool.dropped_batches"] == .int(99))
        #expect(received.last?.message.contains("HTTP 401") == true)
    }

    @Test("an uplink that starts failing and recovers: a warn event, then an info event")
    func transitions() async throws {
        let events = EventCollector()
        let reporter = DeliveryReporter(events: events, eventClock: ManualWallClock(), clock: ManualClock())
        reporter.report(.transition(.init(from: .up, to: .backingOff, reason: "HTTP 503")), uplink: "otlp",
                        endpoint: "http://x")
        reporter.report(.transition(.init(from: .backingOff, to: .up, reason: "delivered")), uplink: "otlp",
                        endpoint: "http://x")
        let received = await events.finish()
        #expect(received.map(\.severity) == [.warn, .info])
        #expect(received.first?.attributes["outpost.uplink.endpoint"] == .string("http://x"))
    }
}
