import OutpostCore
import Testing
@testable import OutpostBatch

/// A cumulative counter that goes down (a reboot, a driver reload, a wrapped counter) starts a new series start
/// time, and points before and after the reset never share a batch with one start time.
@Suite("Counter resets")
struct CounterResetTests {
    let bytes = Series(name: "system.network.io", unit: "By", kind: .counter)
    let temperature = Series(name: "t", unit: "Cel")

    @Test("a reset splits the pending batch and moves the start time just after the last point before it")
    func reset() {
        var pending = PendingBatches()
        let before = [Sample(series: bytes, time: 10, value: 1000), Sample(series: temperature, time: 10, value: 20),
                      Sample(series: bytes, time: 20, value: 1500)]
        #expect(pending.add(before[...], at: 0).isEmpty)
        #expect(pending.counterStarts[bytes] == 10)
        let after = [Sample(series: temperature, time: 30, value: 21), Sample(series: bytes, time: 30, value: 50),
                     Sample(series: bytes, time: 40, value: 80)]
        let rest = pending.add(after[...], at: 0)
        #expect(rest.map(\.time) == [30, 40], "the reset waits for a flush")
        #expect(pending.takeMetrics().count == 4, "the batch before the reset keeps start time 10")
        #expect(pending.counterStarts[bytes] == 10)
        #expect(pending.add(rest, at: 0).isEmpty)
        #expect(pending.counterStarts[bytes] == 21, "a new cumulative series starts after the last old point")
        #expect(pending.takeMetrics().map(\.value) == [50, 80])
    }

    @Test("a counter that reset after its batch was flushed needs no split")
    func resetAfterFlush() {
        var pending = PendingBatches()
        _ = pending.add([Sample(series: bytes, time: 10, value: 1000)][...], at: 0)
        _ = pending.takeMetrics()
        #expect(pending.add([Sample(series: bytes, time: 20, value: 5)][...], at: 0).isEmpty)
        #expect(pending.counterStarts[bytes] == 11)
    }

    @Test("growing counters keep their first start time")
    func growing() {
        var pending = PendingBatches()
        let samples = (1...5).map { Sample(series: bytes, time: Int64($0), value: Double($0 * 100)) }
        #expect(pending.add(samples[...], at: 0).isEmpty)
        #expect(pending.counterStarts[bytes] == 1)
    }
}
