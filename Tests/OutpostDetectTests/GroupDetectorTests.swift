import OutpostCore
import Testing
@testable import OutpostDetect

/// A simulated pump for the group detector: flow, motor current and outlet pressure all follow one hidden speed,
/// the fluid temperature a slow swing of its own (over about four hours); each reading has its own sensor noise. Every reading alone
/// wanders far (the speed swings between 50 % and 90 %), while the relations between them are tight.
struct SimulatedPump {
    static let members = ["pump.flow", "pump.current", "pump.pressure", "pump.temperature"]
    static let interval: Int64 = 10 * second

    var noise: TestNoise
    var drift = 0.0

    init(seed: UInt64) { noise = TestNoise(seed: seed) }

    /// The hidden speed at sample `index`: a three-hour swing plus a slow random walk.
    mutating func speed(_ index: Int) -> Double {
        drift = max(-0.05, min(0.05, drift + 0.002 * noise.gaussian()))
        return 0.7 + 0.18 * sine(2 * .pi * Double(index) / 1080) + drift
    }

    /// The members' readings at sample `index`; `pressureFactor` below 1 is a valve sticking part-closed on the
    /// pressure tap's side (the relation between speed and pressure breaks, the pressure stays in its range).
    mutating func readings(_ index: Int, speed: Double? = nil, pressureFactor: Double = 1) -> [Double] {
        let s = speed ?? self.speed(index)
        let flow = 50 * s + 0.5 * noise.gaussian()
        let current = 30 * s + 5 + 0.3 * noise.gaussian()
        let pressure = 4 * s * pressureFactor + 0.05 * noise.gaussian()
        let temperature = 20 + 3 * sine(2 * .pi * Double(index) / 1500) + 0.2 * noise.gaussian()
        return [flow, current, pressure, temperature]
    }
}

func sine(_ x: Double) -> Double {
    #if canImport(Glibc)
    Glibc.sin(x)
    #endif
}

#if canImport(Glibc)
import Glibc
#endif

@Suite("Group detector")
struct GroupDetectorTests {
    static let learning = 2160  // six hours of samples every 10 s

    func configuration(_ change: (inout GroupConfiguration) -> Void = { _ in }) -> GroupConfiguration {
        var configuration = GroupConfiguration(name: "pump-1")
        configuration.learning = .seconds(6 * 3600)
        change(&configuration)
        return configuration
    }

    func detector(_ configuration: GroupConfiguration) -> GroupDetector {
        var detector = GroupDetector(configuration: configuration)
        for name in SimulatedPump.members { _ = detector.join(Series(name: name, unit: "")) }
        return detector
    }

    /// Offers one group sample, member by member, one second apart within the row.
    func offer(_ detector: inout GroupDetector, _ values: [Double], index: Int) -> [Event] {
        var events: [Event] = []
        for (member, value) in values.enumerated() {
            let time = Int64(index) * SimulatedPump.interval + Int64(member) * second
            events += detector.offer(member: member, sample: Sample(series: detector.members[member], time: time,
                                                                    value: value))
        }
        return events
    }

    /// A detector that has learned `Self.learning` samples of the pump (and `extra` normal ones after).
    func learned(seed: UInt64, extra: Int = 0, _ change: (inout GroupConfiguration) -> Void = { _ in })
        -> (GroupDetector, SimulatedPump, events: [Event])
    {
        var detector = detector(configuration(change))
        var pump = SimulatedPump(seed: seed)
        var events: [Event] = []
        for index in 0..<(Self.learning + 1 + extra) { events += offer(&detector, pump.readings(index), index: index) }
        return (detector, pump, events)
    }

    @Test("it learns the pump's one shared state (one component) and stays quiet over a day of normal operation")
    func learnsAndStaysQuiet() {
        let (detector, _, events) = learned(seed: 1, extra: 8640)
        #expect(detector.summary.learningSamples == Self.learning + 1)
        #expect(detector.summary.samples == Self.learning + 1 + 8640)
        #expect(detector.summary.transitions == 0)
        // Speed drives flow, current and pressure; the temperature's swing is the second.
        #expect(detector.summary.retainedComponents == 2)
        #expect(events.filter { $0.name == .anomalyRaised }.isEmpty)
    }

    @Test("nothing is judged while learning, however strange the samples")
    func silentWhileLearning() {
        var detector = detector(configuration())
        var pump = SimulatedPump(seed: 2)
        var events: [Event] = []
        for index in 0..<Self.learning {
            events += offer(&detector, pump.readings(index, pressureFactor: index % 50 == 49 ? 0.5 : 1), index: index)
        }
        #expect(events.isEmpty)
        #expect(detector.summary.learningSamples == Self.learning)
    }

    @Test("a stuck valve breaks the speed–pressure relation: Q beyond its limit, pressure named first")
    func relationBreakRaisesQ() throws {
        var (detector, pump, _) = learned(seed: 3, extra: 360)
        var events: [Event] = []
        let start = Self.learning + 361
        for index in start..<(start + 60) {
            events += offer(&detector, pump.readings(index, pressureFactor: 0.85), index: index)
        }
        let raised = try #require(events.first { $0.name == .anomalyRaised })
        #expect(raised.attributes["outpost.group"] == .string("pump-1"))
        #expect(raised.attributes["outpost.group.statistic"] == .string("q"))
        guard case .double(let value)? = raised.attributes["outpost.value"],
            case .double(let limit)? = raised.attributes["outpost.group.limit"],
            case .double(let control)? = raised.attributes["outpost.group.control_limit"],
            case .string(let contributors)? = raised.attributes["outpost.group.contributors"],
            case .string(let shares)? = raised.attributes["outpost.group.contributions"]
        else {
            Issue.record("raised event lacks its statistic, limits or contributors: \(raised.attributes)")
            return
        }
        #expect(value > limit)
        #expect(limit >= control)
        #expect(contributors.split(separator: ",").first.map(String.init) == "pump.pressure")
        let ranked = shares.split(separator: ",").compactMap { Double($0) }
        #expect(ranked == ranked.sorted(by: >))
        #expect(ranked.first ?? 0 > 0.5)
        #expect(raised.message.hasPrefix("pump-1: pressure"))
        // The confirmation: a raise needs `confirm_samples` samples beyond, so it comes on the third at the earliest.
        #expect(raised.time >= Int64(start + 2) * SimulatedPump.interval)
    }

    @Test("a pressure sensor drifting away from the others over hours cannot teach itself into the model")
    func slowDriftRaises() throws {
        var (detector, pump, _) = learned(seed: 8, extra: 360)
        var events: [Event] = []
        let start = Self.learning + 361
        // The reading drifts by 0.3 bar (six of its noise) over five and a half hours, while the others keep their
        // relation to the speed.
        for index in start..<(start + 2000) {
            var values = pump.readings(index)
            values[2] += 0.3 * Double(index - start) / 2000
            events += offer(&detector, values, index: index)
        }
        let raised = try #require(events.first { $0.name == .anomalyRaised })
        #expect(raised.attributes["outpost.group.statistic"] == .string("q"))
        guard case .string(let contributors)? = raised.attributes["outpost.group.contributors"] else {
            Issue.record("no contributors")
            return
        }
        #expect(contributors.split(separator: ",").first.map(String.init) == "pump.pressure")
    }

    @Test("every member far beyond its learned range along the learned relation raises T², not Q")
    func operatingPointFarOffRaisesT2() throws {
        var (detector, pump, _) = learned(seed: 4, extra: 360)
        var events: [Event] = []
        let start = Self.learning + 361
        // A ramp (no step the group would take for a transition) to over twice the learned top speed: ten times the
        // speed's spread beyond its mean (the learned limit of T² lies near six).
        for index in start..<(start + 250) {
            let speed = min(2.0, 0.7 + 0.01 * Double(index - start))
            events += offer(&detector, pump.readings(index, speed: speed), index: index)
        }
        let raised = try #require(events.first { $0.name == .anomalyRaised })
        #expect(raised.attributes["outpost.group.statistic"] == .string("t2"))
        guard case .string(let contributors)? = raised.attributes["outpost.group.contributors"] else {
            Issue.record("no contributors")
            return
        }
        #expect(contributors.split(separator: ",").prefix(3).contains("pump.flow"))
        #expect(!contributors.split(separator: ",").prefix(1).contains("pump.temperature"))
    }

    @Test("a stale member suspends the group: no group sample forms from its old value until it reports again")
    func staleMemberSuspends() {
        var (detector, pump, _) = learned(seed: 5, extra: 100)
        let before = detector.summary.samples
        var events: [Event] = []
        let start = Self.learning + 101
        // The temperature sensor goes silent for 30 samples while the valve sticks: the group must not judge the
        // break against the temperature's last value, nor learn from it.
        for index in start..<(start + 30) {
            let values = pump.readings(index, pressureFactor: 0.85)
            for member in 0..<3 {
                let time = Int64(index) * SimulatedPump.interval + Int64(member) * second
                events += detector.offer(member: member, sample: Sample(series: detector.members[member], time: time,
                                                                        value: values[member]))
            }
        }
        #expect(detector.summary.samples == before)
        #expect(detector.summary.suspensions == 1)
        #expect(events.isEmpty)
        // It reports again: the group resumes.
        for index in (start + 30)..<(start + 40) { events += offer(&detector, pump.readings(index), index: index) }
        #expect(detector.summary.samples > before)
        #expect(detector.summary.suspensions == 1)
    }

    @Test("a member in fault suspends the group until a good reading of it arrives")
    func faultedMemberSuspends() {
        var (detector, pump, _) = learned(seed: 6, extra: 100)
        detector.fault(member: 2)
        let before = detector.summary.samples
        let start = Self.learning + 101
        var index = start
        var values = pump.readings(index)
        // Every member but the faulted one reports: no sample.
        for member in [0, 1, 3] {
            _ = detector.offer(member: member, sample: Sample(series: detector.members[member],
                                                              time: Int64(index) * SimulatedPump.interval, value: values[member]))
        }
        #expect(detector.summary.samples == before)
        #expect(detector.summary.suspensions == 1)
        index += 1
        values = pump.readings(index)
        _ = offer(&detector, values, index: index)
        #expect(detector.summary.samples == before + 1)
    }

    @Test("the engine feeds a group from the series it selects, and a sensor fault suspends it")
    func engineWiring() {
        var configuration = DetectionConfiguration()
        var group = self.configuration()
        group.series = [Glob("pump.*")]
        configuration.groups = [group]
        var engine = DetectionEngine(configuration: configuration)
        var pump = SimulatedPump(seed: 7)
        for index in 0..<10 {
            for (member, value) in pump.readings(index).enumerated() {
                _ = engine.process(Sample(series: Series(name: SimulatedPump.members[member], unit: ""),
                                          time: Int64(index) * SimulatedPump.interval, value: value))
            }
            _ = engine.process(Sample(series: Series(name: "room.humidity", unit: "%"),
                                      time: Int64(index) * SimulatedPump.interval, value: 40))
        }
        #expect(engine.groupMembers(0).map(\.name) == SimulatedPump.members)
        let formed = engine.groupSummaries[0].samples
        #expect(formed >= 9)
        engine.fault(Series(name: "pump.pressure", unit: ""))
        for (member, value) in pump.readings(10).enumerated() where member != 2 {
            _ = engine.process(Sample(series: Series(name: SimulatedPump.members[member], unit: ""),
                                      time: 10 * SimulatedPump.interval, value: value))
        }
        #expect(engine.groupSummaries[0].samples == formed)
        #expect(engine.groupSummaries[0].suspensions == 1)
    }
}

@Suite("Group alignment")
struct GroupAlignmentTests {
    @Test("members reporting a moment apart form one sample, stamped with the newest time")
    func lineUp() throws {
        var alignment = GroupAlignment(tolerance: .auto)
        alignment.add()
        alignment.add()
        let first = alignment.note(member: 0, time: 10 * second, value: 1)
        #expect(first == nil)
        let formed = alignment.note(member: 1, time: 11 * second, value: 2)
        let sample = try #require(formed)
        #expect(sample.time == 11 * second)
        #expect(sample.values == [1, 2])
    }

    @Test("members at different rates: the group samples at the slowest one's rate with the others' latest values")
    func differentRates() {
        var alignment = GroupAlignment(tolerance: .auto)
        alignment.add()
        alignment.add()
        var samples: [(time: Int64, values: [Double])] = []
        for t in 0..<60 {
            let time = Int64(t) * second
            if let sample = alignment.note(member: 0, time: time, value: Double(t)) { samples.append(sample) }
            if t % 10 == 0, let sample = alignment.note(member: 1, time: time, value: 100 + Double(t)) {
                samples.append(sample)
            }
        }
        #expect(samples.count == 6)
        #expect(samples.last?.values == [50, 150])
    }

    @Test("a member older than the tolerance beside the newest is stale; it forms no sample until it reports")
    func staleMember() {
        var alignment = GroupAlignment(tolerance: .duration(.seconds(5)))
        alignment.add()
        alignment.add()
        _ = alignment.note(member: 0, time: 0, value: 1)
        _ = alignment.note(member: 1, time: 0, value: 1)
        for t in 1...10 {
            let formed = alignment.note(member: 0, time: Int64(t) * second, value: 1)
            #expect(formed == nil)
        }
        #expect(alignment.staleMember == 1)
        let resumed = alignment.note(member: 1, time: 11 * second, value: 2)
        #expect(resumed?.values == [1, 2])
        #expect(alignment.staleMember == nil)
    }
}

@Suite("Group control limits")
struct ControlLimitTests {
    @Test("T²'s 99 % limit is the χ² quantile of the retained components; Q's follows Jackson and Mudholkar")
    func textbookLimits() {
        // χ²(0.99) for 1, 2 and 5 degrees of freedom.
        #expect(abs(ControlLimits.hotelling(components: 1) - 6.635) < 0.05)
        #expect(abs(ControlLimits.hotelling(components: 2) - 9.210) < 0.05)
        #expect(abs(ControlLimits.hotelling(components: 5) - 15.086) < 0.1)
        // Residual eigenvalues all 1 over 6 dimensions: Q is χ²(6), whose 99 % point is 16.81; Jackson and
        // Mudholkar's approximation lands within a few percent.
        let (limit, _) = ControlLimits.squaredPredictionError(residual: [1, 1, 1, 1, 1, 1][...])
        #expect(abs(limit - 16.81) / 16.81 < 0.05)
    }
}
