import OutpostCore
import OutpostTestSupport
import OutpostWire
import Testing
@testable import OutpostBatch

/// Where an alert's OTLP log record goes: at once in the alerts lane when the uplinks are the alert's only way out,
/// with the next events batch when an alert publisher already sent the alert document at once.
@Suite("An alert's upstream copy")
struct AlertCopyTests {
    @Test("with an alert publisher: the alert document at once, its log record in the events batch after max_age")
    func batchedBesideThePublisher() async throws {
        let harness = BatcherHarness(alertDocuments: AlertDocuments(
            topic: AlertTopic(template: "{prefix}/{gateway}/alerts/{severity}/{series}", prefix: "outpost",
                              gateway: "gw"), gateway: "gw"))
        await harness.batcher.accept([RoutedEvent(harness.alert, isAlert: true)])
        let first = try await harness.sink.next()
        #expect(first.map(\.signal) == [.alert])
        #expect(first.first?.routing == "outpost/gw/alerts/warn/tank.level")
        try await harness.clock.waitForSleepers(1)
        harness.clock.advance(by: .seconds(5))
        let later = try await harness.sink.next()
        #expect(later.map(\.lane) == [.events])
        #expect(later.map(\.signal) == [.logs])
        #expect(later.first?.items == 1)
        await harness.stop()
    }

    @Test("without an alert publisher: the log record leaves at once in the alerts lane")
    func atOnceWithoutPublisher() async throws {
        let harness = BatcherHarness(alertDocuments: nil)
        await harness.batcher.accept([RoutedEvent(harness.alert, isAlert: true)])
        let first = try await harness.sink.next()
        #expect(first.map(\.lane) == [.alerts])
        #expect(first.map(\.signal) == [.logs])
        await harness.stop()
    }
}

/// A batcher with a 5 s `max_age` on a manual clock, its batches collected per write.
private struct BatcherHarness {
    let clock = ManualClock()
    let sink = BatchCollector()
    let batcher: BatcherService<BatchCollector, ManualClock>
    let running: Task<Void, any Error>
    let alert = Event(name: .anomalyRaised, severity: .warn, time: 1_767_225_600_000_000_000,
                      series: Series(name: "tank.level", unit: "%"), message: "tank.level = 80 % is 9 sigma above",
                      attributes: ["outpost.z": .double(9)])

    init(alertDocuments: AlertDocuments?) {
        var configuration = BatchConfiguration()
        configuration.maxAge = .seconds(5)
        batcher = BatcherService(configuration: configuration, resource: Attributes(), sink: sink,
                                 alertDocuments: alertDocuments, clock: clock, wallClock: ManualWallClock(),
                                 logger: quietLogger)
        running = Task { [batcher] in try await batcher.run() }
    }

    func stop() async {
        running.cancel()
        _ = try? await running.value
    }
}

private final class BatchCollector: BatchSink, Sendable {
    private let stream: AsyncStream<[Batch]>
    private let continuation: AsyncStream<[Batch]>.Continuation

    init() {
        (stream, continuation) = AsyncStream<[Batch]>.makeStream()
    }

    func write(_ batches: [Batch]) async {
        continuation.yield(batches)
    }

    func next(timeout: Duration = .seconds(120)) async throws -> [Batch] {
        try await nextElement(of: stream, timeout: timeout, what: "a batch")
    }
}
