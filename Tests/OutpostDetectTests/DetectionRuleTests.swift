import OutpostCore
import Testing
@testable import OutpostDetect

/// Samples `step` seconds apart from `start`, one per value.
private func samples(_ values: [Double], series s: Series, start: Int64 = 0, step: Int64 = 1) -> [Sample] {
    values.enumerated().map { Sample(series: s, time: start + Int64($0.offset) * step * second, value: $0.element) }
}

private func run(_ detector: inout AnomalyDetector, _ input: [Sample]) -> [Event] {
    input.flatMap { detector.process($0) }
}

private func raised(_ events: [Event]) -> [Event] { events.filter { $0.name == .anomalyRaised } }

private func noise(_ count: Int, seed: UInt64, mean: Double = 20, sd: Double = 0.5) -> [Double] {
    var generator = TestNoise(seed: seed)
    return (0..<count).map { _ in mean + sd * generator.gaussian() }
}

@Suite("Likelihood rule")
struct LikelihoodRuleTests {
    @Test("the binomial tail matches a direct sum, and the edges are exact")
    func binomialTail() {
        // P(X >= 3), X ~ Bin(10, 0.1): 1 - (0.9^10 + 10·0.1·0.9^9 + 45·0.01·0.9^8)
        let direct = 1 - (0.3486784401 + 0.387420489 + 0.1937102445)
        #expect(abs(Mathematics.binomialTail(trials: 10, atLeast: 3, probability: 0.1) - direct) < 1e-12)
        #expect(Mathematics.binomialTail(trials: 10, atLeast: 0, probability: 0.3) == 1)
        #expect(Mathematics.binomialTail(trials: 10, atLeast: 11, probability: 0.3) == 0)
        let all = Mathematics.binomialTail(trials: 64, atLeast: 64, probability: 0.0027)
        #expect(all >= 0 && all < 1e-150, "p^64 underflows gracefully")
    }

    @Test("the excursion tail starts Gaussian and learns a heavy tail from the series itself")
    func tailLearns() {
        var tail = ExcursionTail(sigma: 3)
        let gaussian = tail.probability(ofAtLeast: 6)
        #expect(gaussian < 1e-6, "six sigma is rare before anything is learned: \(gaussian)")
        // One sample in 20 beyond 3 sigma, reaching 3 to 13: a heavy-tailed series (request counts, bursts).
        for index in 0..<20_000 { tail.learn(index % 20 == 0 ? 3 + Double(index % 11) : 1) }
        #expect(tail.probability(ofAtLeast: 6) > 1e-3, "six sigma is ordinary for this series")
        #expect(tail.probability(ofAtLeast: 90) < 1e-6, "ninety is not")
        #expect(tail.probability(ofAtLeast: 2) == 1, "within sigma nothing is an excursion")
    }

    @Test("an excursion that recurs becomes ordinary by itself: a job driving the CPU to 100 % every hour")
    func recurringExcursionBecomesOrdinary() {
        var configuration = AnomalyConfiguration()
        configuration.recurrenceTolerance = 0  // the likelihood alone, not the rhythm rule
        var detector = AnomalyDetector(configuration: configuration)
        let s = series("cluster.cpu", unit: "%")
        var generator = TestNoise(seed: 7)
        var values: [Double] = []
        for minute in 0..<(6 * 24 * 60) {
            let job = minute > 2 * 24 * 60 && minute % 60 < 5
            values.append(job ? 100 - abs(0.5 * generator.gaussian()) : min(100, max(0, 20 + 5 * generator.gaussian())))
        }
        let events = raised(run(&detector, samples(values, series: s, step: 60)))
        let firstDay = events.filter { $0.time < Int64(3 * 24 * 3600) * second }
        let later = events.filter { $0.time >= Int64(3 * 24 * 3600) * second }
        #expect(!firstDay.isEmpty, "the job's first runs are news")
        #expect(firstDay.count <= 12)
        #expect(later.isEmpty, "after a day of it the job is ordinary: \(later.map(\.message))")
    }

    @Test("a run of moderate excursions stands out in a calm series and not in a bursty one")
    func runsAreJudgedAgainstTheSeries() {
        let s = series()
        // Five samples at 3.5 sigma, then calm: in Gaussian noise, rare.
        let bump = Array(repeating: 21.75, count: 5)
        var calm = AnomalyDetector(configuration: AnomalyConfiguration())
        let calmEvents = raised(run(&calm, samples(noise(3000, seed: 1) + bump, series: s)))
        #expect(calmEvents.contains { $0.attributes["outpost.anomaly.rule"] == .string("run") })
        // The same bump in a series that goes beyond 3 sigma in bursts all the time.
        var bursty = AnomalyDetector(configuration: AnomalyConfiguration())
        var values = noise(3000, seed: 2)
        for start in stride(from: 100, to: 2990, by: 50) { for index in 0..<5 { values[start + index] += 1.75 } }
        _ = run(&bursty, samples(values, series: s))
        let burstyEvents = raised(run(&bursty, samples(bump, series: s, start: 3000 * second)))
        #expect(burstyEvents.isEmpty, "\(burstyEvents.map(\.message))")
    }

    @Test("a raised event names its rule and how rare the series makes it")
    func explains() throws {
        var detector = AnomalyDetector(configuration: AnomalyConfiguration())
        let s = series()
        _ = run(&detector, samples(noise(600, seed: 3, sd: 0.5) + [27.0] + noise(100, seed: 4), series: s))
        let event = try #require(raised(run(&detector, samples([25.5], series: s, start: 701 * second))).first)
        #expect(event.attributes["outpost.anomaly.rule"] == .string("spike"))
        guard case .double(let likelihood)? = event.attributes["outpost.anomaly.likelihood"] else {
            Issue.record("no likelihood in \(event.attributes)")
            return
        }
        #expect(likelihood > 0 && likelihood < 1e-6)
        #expect(event.message.contains("samples of this series"), "\(event.message)")
        #expect(event.attributes["outpost.anomaly.baseline"] == .string("moving"))
    }
}

@Suite("Seasonal profile")
struct SeasonalProfileTests {
    /// A square day: 20 by night, 80 from 06:00 to 18:00 UTC, with noise, every 5 minutes.
    func squareDay(days: Int, seed: UInt64, broken: Range<Int>? = nil) -> [Double] {
        var generator = TestNoise(seed: seed)
        return (0..<(days * 288)).map { index in
            let hour = (index % 288) / 12
            let day = hour >= 6 && hour < 18
            let usual = day ? 80.0 : 20.0
            let level = broken?.contains(index) == true ? 20.0 : usual
            return level + generator.gaussian()
        }
    }

    @Test("after two days the profile judges a daily cycle: its edges are quiet, a day that stays dark is not")
    func judgesTheCycle() throws {
        let s = series("room.lighting", unit: "1")
        var detector = AnomalyDetector(configuration: AnomalyConfiguration())
        // Day 6 stays at the night level from 08:00 to 16:00: inside the week's range, and nothing the moving
        // baseline sees as a change.
        let values = squareDay(days: 8, seed: 5, broken: (5 * 288 + 96)..<(5 * 288 + 192))
        let events = run(&detector, samples(values, series: s, step: 300))
        let learned = raised(events).filter { $0.time >= Int64(3 * 86400) * second }
        #expect(learned.count == 1, "one episode for the dark day: \(learned.map(\.message))")
        let event = try #require(learned.first)
        #expect(event.attributes["outpost.anomaly.baseline"] == .string("time_of_day"))
        #expect(event.time >= Int64(5 * 86400 + 8 * 3600) * second)
        #expect(event.time <= Int64(5 * 86400 + 9 * 3600) * second, "within the hour")
        let resolved = events.filter { $0.name == .anomalyResolved && $0.time > event.time }
        #expect(resolved.first.map { $0.time >= Int64(5 * 86400 + 16 * 3600) * second } == true,
                "it lasts until the day is back to its usual shape")
    }

    @Test("seasonality = off leaves a daily cycle to the moving baseline, which misses the dark day")
    func offMissesIt() {
        var configuration = AnomalyConfiguration()
        configuration.seasonality = .off
        var detector = AnomalyDetector(configuration: configuration)
        let values = squareDay(days: 8, seed: 5, broken: (5 * 288 + 96)..<(5 * 288 + 192))
        let events = raised(run(&detector, samples(values, series: series(), step: 300)))
        #expect(!events.contains { $0.time >= Int64(5 * 86400 + 8 * 3600) * second
            && $0.time <= Int64(5 * 86400 + 16 * 3600) * second })
    }

    @Test("a weekly cycle gets a weekend profile, and a holiday on a Wednesday stands out against the weekdays")
    func weekendProfile() throws {
        let s = series("shop.demand", unit: "1")
        var detector = AnomalyDetector(configuration: AnomalyConfiguration())
        var generator = TestNoise(seed: 12)
        let start: Int64 = 1_767_225_600  // 2026-01-01, a Thursday
        let holiday = 48  // 2026-02-18, a Wednesday, shaped like a Sunday
        var values: [Double] = []
        for index in 0..<(8 * 7 * 48) {
            let time = start + Int64(index) * 1800
            let weekday = ((time / 86_400) + 4) % 7
            let hour = Double(time % 86_400) / 3600
            let quiet = weekday == 0 || weekday == 6 || index / 48 == holiday
            let busy = 200 * bell(hour, 9) + 150 * bell(hour, 18) + (hour > 8 && hour < 20 ? 50 : 0)
            values.append((100 + (quiet ? 30 * bell(hour, 14, width: 4) : busy)) * (1 + 0.05 * generator.gaussian()))
        }
        let events = raised(run(&detector, samples(values, series: s, start: start * second, step: 1800)))
        let late = events.filter { $0.time >= (start + 21 * 86_400) * second }
        #expect(late.count == 1, "\(late.map(\.message))")
        let event = try #require(late.first)
        let day = (start + Int64(holiday) * 86_400) * second
        #expect(event.time >= day && event.time < day + 12 * 3600 * second, "on the holiday's morning")
        #expect(event.attributes["outpost.anomaly.baseline"] == .string("time_of_day"))
    }

    private func bell(_ hour: Double, _ center: Double, width: Double = 2.5) -> Double {
        let x = (hour - center) / width
        return Mathematics.exponential(-x * x)
    }

    @Test("a series without a cycle is not judged by the profile")
    func noCycleNoProfile() {
        var profile = SeasonalProfile(configuration: AnomalyConfiguration())
        var generator = TestNoise(seed: 6)
        for index in 0..<(5 * 1440) {
            let value = 20 + generator.gaussian()
            profile.learn(value, at: Int64(index) * 60 * second, baselineMean: 20)
        }
        #expect(profile.expectation(at: Int64(5 * 1440) * 60 * second, floor: 0) == nil)
    }
}

@Suite("Drift rule")
struct DriftRuleTests {
    @Test("a slow sink that the moving baseline follows raises one drift episode, before the sink is over")
    func slowSink() throws {
        var configuration = AnomalyConfiguration()
        configuration.seasonality = .off
        configuration.rules = ["drift"]
        var detector = AnomalyDetector(configuration: configuration)
        let s = series("machine.temperature")
        var generator = TestNoise(seed: 8)
        // Five days of noise around 70, then a sink of 10 deviations over 12 hours, every minute.
        var values: [Double] = (0..<(5 * 1440)).map { _ in 70 + generator.gaussian() }
        values += (0..<720).map { 70 - 10 * Double($0) / 720 + generator.gaussian() }
        let events = run(&detector, samples(values, series: s, step: 60))
        let drift = try #require(raised(events).first)
        #expect(events.count == 1, "one episode, open while the gap lasts: \(events.map(\.message))")
        #expect(drift.attributes["outpost.anomaly.rule"] == .string("drift"))
        #expect(drift.time > Int64(5 * 86400) * second, "nothing during the quiet days")
        #expect(drift.time < Int64(5 * 86400 + 12 * 3600) * second)
        #expect(drift.message.contains("below its slow level"), "\(drift.message)")
    }

    @Test("a random walk, whose slow wander is normal, raises no drift")
    func randomWalkQuiet() {
        var configuration = AnomalyConfiguration()
        configuration.rules = ["drift"]
        var detector = AnomalyDetector(configuration: configuration)
        var generator = TestNoise(seed: 9)
        var level = 1000.0, velocity = 0.0
        var values: [Double] = []
        for _ in 0..<(14 * 1440) {
            velocity = 0.999 * velocity + 0.0004 * generator.gaussian()
            level += velocity
            values.append(level + 0.05 * generator.gaussian())
        }
        let events = raised(run(&detector, samples(values, series: series("weather.pressure", unit: "hPa"), step: 60)))
        #expect(events.count <= 1, "\(events.map(\.message))")
    }
}

@Suite("Episode budget and the rule registry")
struct EpisodeBudgetTests {
    let hour: Int64 = 3_600 * 1_000_000_000

    @Test("an episode that keeps a rhythm is a recurring condition, counted once, not sent")
    func rhythm() {
        var budget = EpisodeBudget(configuration: AnomalyConfiguration())
        let starts = (0..<8).map { Int64($0) * 3 * hour + (Int64($0 % 2) * 60 * second) }
        let refusals = starts.map { budget.admit(at: $0, rising: true) }
        #expect(refusals.prefix(4).allSatisfy { $0 == nil }, "four episodes cannot show a rhythm yet")
        #expect(refusals.dropFirst(4).allSatisfy { $0 == .recurring })
        #expect(budget.admit(at: starts.last! + hour, rising: true) == nil, "a break in the rhythm is news")
        #expect(budget.admit(at: starts.last! + hour + 1, rising: false) == nil, "drops keep their own rhythm")
    }

    @Test("at most max_episodes_per_day in any 24 hours, beside the hourly budget")
    func daily() {
        var configuration = AnomalyConfiguration()
        configuration.maxEpisodesPerDay = 3
        configuration.recurrenceTolerance = 0
        var budget = EpisodeBudget(configuration: configuration)
        let refusals = (0..<5).map { budget.admit(at: Int64($0) * 2 * hour, rising: true) }
        #expect(refusals == [nil, nil, nil, .daily, .daily])
        #expect(budget.admit(at: 25 * hour, rising: true) == nil, "a day after the first, room again")
    }

    @Test("rules = [...] runs only the rules named: a record still raises, a rare spike inside the range does not")
    func rulesSwitch() {
        var configuration = AnomalyConfiguration()
        configuration.rules = ["record"]
        var detector = AnomalyDetector(configuration: configuration)
        let s = series()
        _ = run(&detector, samples(noise(100, seed: 32) + [26.0] + noise(400, seed: 33), series: s))
        #expect(raised(run(&detector, samples([24.0] + noise(20, seed: 34), series: s, start: 501 * second))).isEmpty)
        let record = raised(run(&detector, samples([30.0], series: s, start: 600 * second)))
        #expect(record.first?.attributes["outpost.anomaly.rule"] == .string("record"))
        #expect(DetectionRules.names == ["record", "likelihood", "drift", "stuck"])
    }

    @Test("a series that never changed value is constant, not stuck")
    func constantIsNotStuck() {
        var detector = AnomalyDetector(configuration: AnomalyConfiguration())
        #expect(run(&detector, samples(Array(repeating: 45.0, count: 5000), series: series())).isEmpty)
    }
}
