import OutpostCore
import Testing
@testable import OutpostDetect

@Suite("The readings log line")
struct LatestReadingsTests {
    let probe = Series(name: "tank.temperature", unit: "Cel", attributes: ["sensor.id": .string("28-0001")])
    let load = Series(name: "system.cpu.load_average.1m", unit: "1")

    @Test("a faulted sensor shows `fault`, not its last good value, until it reads well again")
    func faultHidesStaleValue() {
        var latest = LatestReadings()
        #expect(latest.line() == nil)
        latest.record(Sample(series: load, time: 1, value: 0.5))
        latest.record(Sample(series: probe, time: 1, value: 21.375))
        #expect(latest.line() == "tank.temperature=21.38 Cel  system.cpu.load_average.1m=0.5")
        latest.fault(probe)
        #expect(latest.line() == "tank.temperature=fault  system.cpu.load_average.1m=0.5")
        latest.record(Sample(series: probe, time: 3, value: 22))
        #expect(latest.line() == "tank.temperature=22 Cel  system.cpu.load_average.1m=0.5")
        latest.forget(probe)
        #expect(latest.line(limit: 0) == " (+1 more)")
    }
}
