import Foundation
import OutpostCore
@testable import OutpostInputs
import OutpostTestSupport
import Synchronization
import Testing

/// Collects what an input hands the pipeline; a test waits on it until what it expects has arrived.
final class ReadingRecorder: ReadingSink, Sendable {
    private let collected = Mutex<[Reading]>([])
    private let arrivals: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (arrivals, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func accept(_ readings: [Reading]) async {
        collected.withLock { $0 += readings }
        continuation.yield()
    }

    var readings: [Reading] { collected.withLock { $0 } }

    /// Waits for the next hand-over until `condition` holds for everything collected; fails after `timeout`.
    func wait(_ what: String, timeout: Duration = .seconds(120), until condition: ([Reading]) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(readings) {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw TimeoutError(what: what) }
            _ = try await nextElement(of: arrivals, timeout: left, what: what)
        }
    }

    func samples(_ name: String) -> [Sample] {
        readings.samples.filter { $0.series.name == name }
    }
}

/// A device on `endpoint` reading `registers`, polled fast for tests.
func modbusDevice(_ name: String = "dev", endpoint: ModbusEndpoint, unit: Int = 1,
                  registers: [ModbusRegister], interval: Duration = .milliseconds(200),
                  timeout: Duration = .milliseconds(500), staleAfter: Int = 2, maxGap: Int = 10)
    -> ModbusInputConfiguration
{
    var configuration = ModbusInputConfiguration(name: name, endpoint: endpoint, registers: registers)
    configuration.unitID = unit
    configuration.interval = interval
    configuration.timeout = timeout
    configuration.staleAfter = staleAfter
    configuration.maxGap = maxGap
    return configuration
}

/// Runs the input until the returned task is cancelled.
func start(_ configuration: ModbusInputConfiguration, into recorder: ReadingRecorder) -> Task<Void, Never> {
    let input = ModbusInput(configuration: configuration, clock: ContinuousClock(), wallClock: SystemWallClock())
    return Task { try? await input.run(into: recorder) }
}

extension Array where Element == Reading {
    func events(_ name: EventName) -> [Event] { events.filter { $0.name == name } }
}
