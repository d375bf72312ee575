import OutpostCore
import Testing
@testable import OutpostDetect

@Suite("Staleness counts silence on the ticks, not on wall-clock differences")
struct StalenessRuleTests {
    let tank = series("tank.level", unit: "%")

    @Test("a series silent for longer than the limit raises stale once, and recovers with the silence it had")
    func realSilence() {
        var rule = StalenessRule(limit: .seconds(10), firstSeen: 0)
        var events: [Event] = []
        for tick in 1...15 { events += rule.check(series: tank, now: Int64(tick) * second) }
        #expect(events.map(\.name) == [.deviceStale])
        let recovered = rule.sampleArrived(Sample(series: tank, time: 16 * second, value: 1))
        #expect(recovered.map(\.name) == [.deviceRecovered])
        #expect(recovered.first?.message.contains("after 15s") == true, "\(recovered.first?.message ?? "")")
    }

    @Test("the wall clock stepping from 1970 to today between two ticks raises no stale event")
    func clockJumpsForward() {
        let boot: Int64 = 100 * second, today: Int64 = 1_796_078_705 * second
        var rule = StalenessRule(limit: .seconds(3), firstSeen: boot)
        var events: [Event] = []
        for tick in 1...2 {
            events += rule.check(series: tank, now: boot + Int64(tick) * second)
            _ = rule.sampleArrived(Sample(series: tank, time: boot + Int64(tick) * second, value: 1))
        }
        events += rule.check(series: tank, now: today)
        _ = rule.sampleArrived(Sample(series: tank, time: today, value: 1))
        for tick in 1...5 {
            events += rule.check(series: tank, now: today + Int64(tick) * second)
            _ = rule.sampleArrived(Sample(series: tank, time: today + Int64(tick) * second, value: 1))
        }
        #expect(events.isEmpty, "\(events.map(\.message))")
    }

    @Test("a clock stepped back neither raises stale nor hides a real silence")
    func clockStepsBack() {
        var rule = StalenessRule(limit: .seconds(5), firstSeen: 1000 * second)
        var events = rule.check(series: tank, now: 10 * second)
        #expect(events.isEmpty)
        for tick in 1...7 { events += rule.check(series: tank, now: (10 + Int64(tick)) * second) }
        #expect(events.map(\.name) == [.deviceStale], "silence keeps counting after the step")
    }
}
