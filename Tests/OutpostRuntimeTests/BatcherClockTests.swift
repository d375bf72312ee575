import Foundation
import OutpostCore
import OutpostTestSupport
import ServiceLifecycle
import Testing
@testable import OutpostRuntime
@testable import OutpostSpool

@Suite("Batcher ages on the monotonic clock")
struct BatcherClockTests {
    @Test("the wall clock steps back an hour with a batch open: it still closes after max_age, not an hour later")
    func wallClockStepBack() async throws {
        let state = try temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let clock = ManualClock(), wall = ManualWallClock()
        let configuration = try OutpostConfiguration.parse("""
            [gateway]
            state_dir = "\(state)"
            [log]
            readings_interval = "0s"
            [alerts]
            stdout = false
            [batch]
            max_age = "5s"
            [status]
            self_metrics_interval = "0s"
            [detect]
            enabled = false
            [[input.simulated]]
            name = "tank.level"
            signal = "constant"
            base = 50.0
            """, file: "t.toml", environment: [:], sampleClock: nil)
        let runtime = Runtime(configuration: configuration, clock: clock, wallClock: wall, extraOutputs: [])
        let group = ServiceGroup(configuration: try await runtime.groupConfiguration(logger: quietLogger))
        let running = Task { try await group.run() }
        let spool = try SQLiteSpool(readOnlyPath: state + "/spool.db")
        for second in 1...7 {
            try await clock.waitForSleepers(5)
            // NTP corrects a clock that ran an hour fast, two seconds into the batch.
            wall.advance(by: second == 3 ? .seconds(1 - 3600) : .seconds(1))
            clock.advance(by: .seconds(1))
        }
        try await waitUntil("the metrics batch closed by max_age") { (try? spool.statistics()[.metrics].batches) == 1 }
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
