import Foundation
import Logging
import OutpostCore
import OutpostTestSupport
import ServiceLifecycle
import Synchronization
import Testing
@testable import OutpostRuntime
import OutpostDetect

/// Records every event the pipeline publishes.
final class RecordingOutput: EventOutput {
    private let events = Mutex<[Event]>([])

    var all: [Event] { events.withLock { $0 } }
    var alertsOnly: Bool { false }

    func publish(_ event: Event) async {
        events.withLock { $0.append(event) }
    }
}

@Suite("Runtime pipeline on an injected clock")
struct RuntimeTests {
    func config(stateDirectory: String) -> String {
        """
        [gateway]
        state_dir = "\(stateDirectory)"

        [log]
        readings_interval = "0s"

        [alerts]
        stdout = false

        [detect]
        warmup = 10
        sigma = 4
        quiet_period = "3s"

        [[input.simulated]]
        name = "tank.level"
        unit = "%"
        signal = "noise"
        base = 50.0
        noise = 0.2
        interval = "1s"

        [[input.simulated.inject]]
        kind = "spike"
        at = "15s"
        size = 10.0

        [[input.simulated.inject]]
        kind = "dropout"
        at = "25s"
        duration = "6s"
        """
    }

    @Test("samples flow from an input through detection to the outputs; shutdown drains and returns")
    func endToEnd() async throws {
        let clock = ManualClock()
        let wall = ManualWallClock()
        let state = try temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let configuration = try OutpostConfiguration.parse(config(stateDirectory: state), file: "test.toml",
                                                           environment: [:], sampleClock: nil)
        let recorder = RecordingOutput()
        let runtime = Runtime(configuration: configuration, clock: clock, wallClock: wall, extraOutputs: [recorder])
        let group = ServiceGroup(configuration: try await runtime.groupConfiguration(logger: quietLogger))
        let running = Task { try await group.run() }

        // One simulated input and the tickers of detection, batcher, spool and status sleep on the clock.
        for _ in 0..<40 {
            try await clock.waitForSleepers(5)
            wall.advance(by: .seconds(1))
            clock.advance(by: .seconds(1))
        }
        try await waitUntil("the stale event") { recorder.all.contains { $0.name == .deviceStale } }
        try await waitUntil("recovery") { recorder.all.contains { $0.name == .deviceRecovered } }
        let names = recorder.all.map(\.name)
        #expect(names.filter { $0 == .anomalyRaised }.count == 1)
        #expect(names.contains(.anomalyResolved))
        let raised = try #require(recorder.all.first { $0.name == .anomalyRaised })
        #expect(raised.series?.name == "tank.level")

        await group.triggerGracefulShutdown()
        try await running.value
    }
}

