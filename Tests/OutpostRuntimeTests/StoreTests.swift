import Foundation
import Logging
import OutpostCore
import OutpostTestSupport
import ServiceLifecycle
import Testing
@testable import OutpostRuntime
@testable import OutpostSpool

@Suite("Batching through the runtime")
struct BatchingRuntimeTests {
    @Test("metrics close after max_age, alerts at once, and shutdown flushes the rest into the spool")
    func batchesReachTheSpool() async throws {
        let state = try temporaryStateDirectory()
        let clock = ManualClock(), wall = ManualWallClock()
        let configuration = try OutpostConfiguration.parse("""
            [gateway]
            state_dir = "\(state)"
            [log]
            readings_interval = "0s"
            [alerts]
            stdout = false
            [batch]
            max_age = "10s"
            [status]
            self_metrics_interval = "0s"
            [detect]
            warmup = 5
            sigma = 4
            [[input.simulated]]
            name = "tank.level"
            signal = "constant"
            base = 50.0
            noise = 0.1
            [[input.simulated.inject]]
            kind = "spike"
            at = "8s"
            size = 20.0
            """, file: "t.toml", environment: [:], sampleClock: nil)
        let runtime = Runtime(configuration: configuration, clock: clock, wallClock: wall, extraOutputs: [])
        let group = ServiceGroup(configuration: try await runtime.groupConfiguration(logger: quietLogger))
        let running = Task { try await group.run() }
        for _ in 0..<9 {
            try await clock.waitForSleepers(5)
            wall.advance(by: .seconds(1))
            clock.advance(by: .seconds(1))
        }
        let spool = try SQLiteSpool(readOnlyPath: state + "/spool.db")
        try await waitUntil("the alert batch") { (try? spool.statistics()[.alerts].batches) == 1 }
        #expect(try spool.statistics()[.metrics].batches == 0, "metrics wait for max_age")
        for _ in 0..<4 {
            try await clock.waitForSleepers(5)
            wall.advance(by: .seconds(1))
            clock.advance(by: .seconds(1))
        }
        try await waitUntil("the first metrics batch") { (try? spool.statistics()[.metrics].batches) == 1 }
        try await clock.waitForSleepers(5)
        clock.advance(by: .seconds(1))
        await group.triggerGracefulShutdown()
        try await running.value
        let statistics = try spool.statistics()
        #expect(statistics[.metrics].batches == 2, "shutdown flushed the pending metrics")
        #expect(statistics[.metrics].items >= 13)
        #expect(statistics[.alerts].items == 1)
        let status = try String(contentsOfFile: state + "/status.json", encoding: .utf8)
        #expect(status.contains("\"state\":\"stopped\""))
    }
}
