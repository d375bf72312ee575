import OutpostCore
import OutpostInputs
import OutpostTestSupport
import Testing

@Suite("Clock at boot: readings wait for a synchronised clock")
struct SampleGateTests {
    @Test("readings stamped in 1970 are held, then leave in order with the right times once the clock is set")
    func holdThenRelease() {
        let clocks = HandSetClocks()
        var probe = ClockSyncProbe()
        probe.timesyncDirectory = "/nonexistent"
        let clock = SyncAwareWallClock(base: clocks, monotonic: clocks, probe: probe)
        let gate = SampleGate(clock: clock, inputCount: 2, logger: quietLogger)
        let tank = Series(name: "tank.level", unit: "%")
        for value in 0..<3 {
            #expect(gate.admit([.sample(Sample(series: tank, time: clock.nowNanos(), value: Double(value)))], from: 0)
                .isEmpty)
            clocks.advance(seconds: 1)
        }
        #expect(gate.admit([.problem("bad row")], from: 1).count == 1, "other inputs are not held without cause")
        clocks.setWall(1_796_078_705)
        let released = gate.admit([.sample(Sample(series: tank, time: clock.nowNanos(), value: 3))], from: 0)
        let times = released.compactMap { reading -> Int64? in
            if case .sample(let sample) = reading { return sample.time } else { return nil }
        }
        #expect(times == [1_796_078_702, 1_796_078_703, 1_796_078_704, 1_796_078_705].map { $0 * 1_000_000_000 })
        #expect(gate.admit([.sample(Sample(series: tank, time: clock.nowNanos(), value: 4))], from: 0).count == 1)
    }

    @Test("the hold is bounded: beyond maximumHeldPerInput the oldest readings go, counted")
    func bounded() {
        let clocks = HandSetClocks()
        var probe = ClockSyncProbe()
        probe.timesyncDirectory = "/nonexistent"
        let clock = SyncAwareWallClock(base: clocks, monotonic: clocks, probe: probe)
        let gate = SampleGate(clock: clock, inputCount: 1, logger: quietLogger)
        let tank = Series(name: "tank.level", unit: "%")
        let many = (0..<(SampleGate.maximumHeldPerInput + 10)).map {
            Reading.sample(Sample(series: tank, time: -1 - Int64($0), value: 0))
        }
        #expect(gate.admit(many, from: 0).isEmpty)
        #expect(gate.dropped == 10)
    }
}
