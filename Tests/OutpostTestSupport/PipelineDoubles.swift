import Foundation
import Logging
import OutpostCore

package func storeBatch(_ lane: Lane, size: Int = 4000) -> Batch {
    Batch(id: UUID().uuidString, lane: lane, signal: .metrics, format: .otlpProtobuf,
          contentEncoding: .gzip, created: 0, items: 10, uncompressedBytes: size, payload: Array(repeating: 7, count: size))
}

/// Collects what the spool service reports.
package final class EventCollector: EventSink, Sendable {
    package let stream: AsyncStream<Event>
    package let continuation: AsyncStream<Event>.Continuation

    package init() {
        (stream, continuation) = AsyncStream<Event>.makeStream()
    }

    package func send(_ events: [Event]) {
        for event in events { continuation.yield(event) }
    }

    /// Everything sent so far, once no more can come.
    package func finish() async -> [Event] {
        continuation.finish()
        var received: [Event] = []
        for await event in stream { received.append(event) }
        return received
    }

    package func next(timeout: Duration = .seconds(120)) async throws -> Event {
        try await nextElement(of: stream, timeout: timeout, what: "an event")
    }
}

/// The next element `stream` yields, or a `TimeoutError` naming `what` after `timeout`.
package func nextElement<Element: Sendable>(of stream: AsyncStream<Element>, timeout: Duration,
                                            what: String) async throws -> Element {
    try await withThrowingTaskGroup(of: Element?.self) { group in
        group.addTask {
            for await element in stream { return element }
            return nil
        }
        group.addTask {
            try await ContinuousClock().sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let element = try await group.next() ?? nil else { throw TimeoutError(what: what) }
        return element
    }
}

package func temporaryStateDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-state-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A logger that drops everything.
package let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
