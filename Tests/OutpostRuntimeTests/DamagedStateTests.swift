import Foundation
import OutpostInputs
import Synchronization
import Logging
@testable import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostRuntime
@testable import OutpostSpool

@Suite("Self-metrics and a clock at 1970")
struct SelfMetricsClockTests {
    @Test("no self-metrics while the wall clock reads a time before the build; all of them once it is set")
    func skippedBeforeSync() {
        let counters = PipelineCounters(inputCount: 0, startedAt: 0).snapshot
        #expect(SelfMetrics.samples(counters: counters, spool: SpoolStatistics(), now: 100 * 1_000_000_000).isEmpty)
        #expect(!SelfMetrics.samples(counters: counters, spool: SpoolStatistics(),
                                     now: 1_796_078_705 * 1_000_000_000).isEmpty)
    }
}

@Suite("An unwritable status file is reported once, not every few seconds")
struct StatusFailureTests {
    @Test("a run of failures is one change, and its end another")
    func latch() {
        let latch = FailureLatch()
        #expect(!latch.reportChange(failing: false), "a first success is not news")
        #expect(latch.reportChange(failing: true))
        #expect(!latch.reportChange(failing: true))
        #expect(!latch.reportChange(failing: true))
        #expect(latch.reportChange(failing: false))
    }
}

@Suite("Security: the status file")
struct StatusFileOwnershipTests {
    @Test("a status path naming a file that is not an Outpost status file stops the start; the file stays")
    func statusFileNotOurs() async throws {
        let state = try temporaryStateDirectory()
        let victim = state + "/hosts"
        try "127.0.0.1 localhost\n".write(toFile: victim, atomically: true, encoding: .utf8)
        let configuration = try OutpostConfiguration.parse("""
            [gateway]
            state_dir = "\(state)"
            [status]
            path = "\(victim)"
            [[input.simulated]]
            name = "a.b"
            """, file: "t.toml", environment: [:])
        let runtime = Runtime(configuration: configuration, clock: ManualClock(), wallClock: ManualWallClock(),
                              extraOutputs: [])
        let error = await #expect(throws: StartupError.self) {
            _ = try await runtime.groupConfiguration(logger: quietLogger)
        }
        #expect(error?.message.contains(victim) == true)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "127.0.0.1 localhost\n")
        // Outpost's own status file is fine to replace.
        let own = StatusDocument.render(configuration: configuration, inputSlots: [], counters: PipelineCounters.Snapshot(),
                                        spool: SpoolStatistics(), uplinks: [], now: 0, state: "stopped")
        try own.write(toFile: victim, atomically: true, encoding: .utf8)
        _ = try await runtime.groupConfiguration(logger: quietLogger)
    }
}
