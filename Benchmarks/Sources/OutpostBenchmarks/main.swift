// Each benchmark runs its workload several times and reports the best run, so a busy machine skews less.
#if canImport(Glibc)
import Glibc
#endif
import CMallocTuning
import OutpostCore
import OutpostDetect
import OutpostInputs
import OutpostRuntime
import OutpostSpool
import OutpostTools
import OutpostWire

struct Measurement {
    let name: String
    let value: Double
    let unit: String
}

func best(of runs: Int, _ body: () -> Int) -> (seconds: Double, count: Int) {
    var bestSeconds = Double.infinity
    var count = 0
    for _ in 0..<runs {
        let start = ContinuousClock.now
        count = body()
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bestSeconds = min(bestSeconds, seconds)
    }
    return (bestSeconds, count)
}

/// Simulated sensors → sigma detection + a threshold rule: the per-sample cost of the detection stage.
func simulatedThroughDetection(series seriesCount: Int, ticks: Int) -> Measurement {
    var detection = DetectionConfiguration()
    detection.thresholds = [ThresholdRuleConfiguration(series: Glob("*"), below: -1000)]
    let result = best(of: 5) {
        var engine = DetectionEngine(configuration: detection)
        var readers = (0..<seriesCount).map { index in
            var configuration = SimulatedInputConfiguration(identity: SensorIdentity(name: "bench.s\(index)", unit: "Cel"))
            configuration.seed = UInt64(index + 1)
            configuration.signal = .sine
            configuration.injections = [.init(kind: .spike, at: .seconds(100), every: .seconds(500),
                                              duration: .seconds(3), size: 5)]
            return SimulatedReader(configuration: configuration)
        }
        let source = SampleSource(interval: .seconds(1))
        var events = 0
        for tick in 0..<ticks {
            let now = Int64(tick) * 1_000_000_000
            for index in readers.indices {
                for case .sample(let sample) in readers[index].read(now: now) {
                    events += engine.process(sample, from: source).count
                }
            }
            events += engine.checkStaleness(now: now).count
        }
        precondition(events > 0, "the spikes must be detected")
        return seriesCount * ticks
    }
    return Measurement(name: "simulated input → detection (\(seriesCount) series)",
                       value: Double(result.count) / result.seconds, unit: "samples/s")
}

/// Detection alone on precomputed values: the cost of the detector itself.
/// `bare`: every excursion beyond 3 sigma raises (one rule, no profile, no budget), for a side-by-side ratio.
func detectionOnly(samples: Int, bare: Bool = false) -> Measurement {
    let series = Series(name: "bench.value", unit: "Cel")
    var generator = SeededGenerator(seed: 1)
    let values = (0..<samples).map { _ in 20 + generator.nextGaussian() }
    let result = best(of: 5) {
        var configuration = DetectionConfiguration()
        if bare {
            // Every excursion beyond 3 sigma raises: the likelihood rule alone, at a threshold nothing is under.
            configuration.defaults.anomaly.rules = ["likelihood"]
            configuration.defaults.anomaly.likelihoodThreshold = 0.5
            configuration.defaults.anomaly.confirmSamples = 1
            configuration.defaults.anomaly.seasonality = .off
            configuration.defaults.anomaly.recurrenceTolerance = 0
            configuration.defaults.anomaly.maxEpisodesPerHour = 0
            configuration.defaults.anomaly.maxEpisodesPerDay = 0
        }
        var engine = DetectionEngine(configuration: configuration)
        var events = 0
        for (index, value) in values.enumerated() {
            events += engine.process(Sample(series: series, time: Int64(index) * 1_000_000_000, value: value)).count
        }
        return samples + events * 0
    }
    let name = "anomaly detection alone (1 series, ewma\(bare ? ", bare score" : ", defaults"))"
    return Measurement(name: name, value: Double(result.count) / result.seconds,
                       unit: "samples/s")
}

/// Memory of detection per series: resident-set growth with 20 000 series that have each seen 200 samples, divided
/// by the series count; it includes the engine's dictionary, the summaries and the allocator's overhead.
func detectionMemory(series count: Int = 20_000) -> [Measurement] {
    var generator = SeededGenerator(seed: 2)
    let names = (0..<count).map { Series(name: "bench.\($0)", unit: "Cel") }
    let before = residentBytes()
    var engine = DetectionEngine(configuration: DetectionConfiguration())
    for tick in 0..<200 {
        for series in names {
            _ = engine.process(Sample(series: series, time: Int64(tick) * 1_000_000_000,
                                      value: 20 + generator.nextGaussian()))
        }
    }
    let after = residentBytes()
    let perSeries = Double(after - before) / Double(count)
    precondition(engine.summaries.count == count)
    return [
        Measurement(name: "detection state per series (engine, 20 000 series, RSS growth)", value: perSeries,
                    unit: "B"),
        Measurement(name: "AnomalyDetector inline size", value: Double(MemoryLayout<AnomalyDetector>.size), unit: "B"),
    ]
}

/// A CSV recording → parse → detection → alert JSON: the `outpost replay` path.
func replayFile(rows: Int) -> Measurement {
    let path = "/tmp/outpost-bench-\(getpid()).csv"
    var text = "timestamp,value\n"
    var generator = SeededGenerator(seed: 2)
    for row in 0..<rows {
        let value = 20 + generator.nextGaussian() + (row % 5000 == 4000 ? 20 : 0)
        text += "\(1_772_366_400 + row),\(value)\n"
    }
    let file = fopen(path, "w")!
    fputs(text, file)
    fclose(file)
    defer { unlink(path) }
    let runner = ReplayRunner(configuration: nil)
    let result = best(of: 3) {
        var bytes = 0
        let summary = runner.replay(path: path, emit: { bytes += $0.utf8.count }, problem: { _ in }).files[0]
        precondition(summary.rows == rows)
        return summary.rows
    }
    return Measurement(name: "replay CSV → detection → alert JSON", value: Double(result.count) / result.seconds,
                       unit: "rows/s")
}

/// One host-health poll on this machine's real /proc and /sys.
func hostPoll() -> Measurement {
    var reader = HostReader(configuration: HostInputConfiguration())
    _ = reader.read(now: 0)
    let polls = 2000
    let result = best(of: 3) {
        var samples = 0
        for tick in 0..<polls { samples += reader.read(now: Int64(tick)).count }
        return samples
    }
    return Measurement(name: "host input poll (/proc + /sys, \(result.count / polls) samples)",
                       value: result.seconds / Double(polls) * 1e6, unit: "µs/poll")
}

/// 100 simulated series at 1 Hz for `seconds`, as the runtime would batch them every 30 s.
func hundredSeries(seconds: Int) -> [[Sample]] {
    var readers = (0..<100).map { index in
        var configuration = SimulatedInputConfiguration(
            identity: SensorIdentity(name: "site.sensor\(index % 10).value\(index / 10)", unit: "Cel",
                                     attributes: ["sensor.id": .string("s-\(index)"), "location": .string("bed-\(index % 4)")]))
        configuration.seed = UInt64(index + 1)
        configuration.resolution = 0.01
        return SimulatedReader(configuration: configuration)
    }
    let start: Int64 = 1_772_366_400_000_000_000
    return (0..<seconds).map { second in
        readers.indices.flatMap { index in
            readers[index].read(now: start + Int64(second) * 1_000_000_000).compactMap { reading -> Sample? in
                if case .sample(let sample) = reading { sample } else { nil }
            }
        }
    }
}

let resource: Attributes = ["service.name": .string("outpost"), "service.version": .string("0.1.0"),
                            "host.name": .string("greenhouse-01"), "host.arch": .string("arm64"),
                            "os.type": .string("linux"), "outpost.gateway.id": .string("greenhouse-01")]

/// Bytes per sample on the wire: 100 series at 1 Hz, one batch per 30 s.
func wireBytesPerSample() -> [Measurement] {
    let samples = hundredSeries(seconds: 30).flatMap { $0 }
    var results: [Measurement] = []
    for encoding in OTLPEncoding.allCases {
        for level: Int32 in [0, 6] {
            let builder = BatchBuilder(encoder: OTLPEncoder(resource: resource),
                                       format: BatchFormat(encoding: encoding, gzipLevel: level, maxBytes: 4 << 20))
            let batches = try! builder.metricsBatches(samples, now: 0) { _ in 0 }
            let bytes = batches.reduce(0) { $0 + $1.payload.count }
            results.append(Measurement(
                name: "wire bytes per sample, 100 series at 1 Hz, 30 s batches, \(encoding.rawValue)"
                    + (level == 0 ? " uncompressed" : " gzip \(level)"),
                value: Double(bytes) / Double(samples.count), unit: "B"))
        }
    }
    return results
}

/// Detection → batch → OTLP protobuf → gzip → SQLite spool, on a real file; plus the bytes the process wrote.
func storePipeline() -> [Measurement] {
    let path = "/tmp/outpost-bench-spool-\(getpid()).db"
    defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
    let seconds = 300
    let ticks = hundredSeries(seconds: seconds)
    let builder = BatchBuilder(encoder: OTLPEncoder(resource: resource), format: BatchFormat())
    let spool = try! SQLiteSpool(path: path, maxBytes: 256 << 20,
                                 destinations: [SpoolDestination(uplink: "otlp", accepts: Signal.otlp)])
    var engine = DetectionEngine(configuration: DetectionConfiguration())
    let writtenBefore = bytesWritten()
    let start = ContinuousClock.now
    var pending: [Sample] = []
    var total = 0
    for (second, samples) in ticks.enumerated() {
        for sample in samples { _ = engine.process(sample) }
        pending += samples
        total += samples.count
        if second % 30 == 29 {
            for batch in try! builder.metricsBatches(pending, now: 0, counterStart: { _ in 0 }) { try! spool.enqueue(batch) }
            pending = []
        }
    }
    let elapsed = ContinuousClock.now - start
    let seconds_ = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let written = bytesWritten() - writtenBefore
    return [
        Measurement(name: "detect → batch → protobuf → gzip → SQLite spool (100 series, 30 s batches)",
                    value: Double(total) / seconds_, unit: "samples/s"),
        Measurement(name: "bytes written to disk per sample by that pipeline (/proc/self/io)",
                    value: Double(written) / Double(total), unit: "B"),
    ]
}

func residentBytes() -> Int {
    let status = (try? SystemFiles.read("/proc/self/status")) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return (Int(line.split(separator: " ").dropLast().last ?? "0") ?? 0) * 1024
}

func bytesWritten() -> Int {
    let io = (try? SystemFiles.read("/proc/self/io")) ?? ""
    let line = io.split(separator: "\n").first { $0.hasPrefix("write_bytes:") } ?? ""
    return Int(line.split(separator: " ").last ?? "0") ?? 0
}

/// `d` members driven by d / 4 shared hidden random walks through fixed random loadings, with their own noise: what a
/// `[[detect.group]]` over one machine sees. Each row is one group sample.
func groupRows(dimension d: Int, rows: Int, seed: UInt64) -> [[Double]] {
    var generator = SeededGenerator(seed: seed)
    let hidden = max(2, d / 4)
    let loadings = (0..<d).map { _ in (0..<hidden).map { _ in generator.nextGaussian() } }
    var states = [Double](repeating: 0, count: hidden)
    return (0..<rows).map { _ in
        for index in states.indices { states[index] = 0.999 * states[index] + 0.05 * generator.nextGaussian() }
        return (0..<d).map { member in
            zip(loadings[member], states).reduce(0) { $0 + $1.0 * $1.1 } + 0.1 * generator.nextGaussian()
        }
    }
}

func groupDetector(dimension d: Int, learningRows: Int) -> GroupDetector {
    var configuration = GroupConfiguration(name: "bench-\(d)")
    configuration.learning = .seconds(Int64(learningRows))
    var detector = GroupDetector(configuration: configuration)
    for member in 0..<d { _ = detector.join(Series(name: "bench.m\(member)", unit: "")) }
    return detector
}

func feed(_ detector: inout GroupDetector, _ rows: ArraySlice<[Double]>, from start: Int) -> Int {
    var events = 0
    for (offset, row) in rows.enumerated() {
        let time = Int64(start + offset) * 1_000_000_000
        for (member, value) in row.enumerated() {
            events += detector.offer(member: member, sample: Sample(series: detector.members[member], time: time,
                                                                    value: value)).count
        }
    }
    return events
}

/// The group detector alone (alignment, model, T² and Q, limits, episodes) on a learned group of `d` members: the
/// cost of one group sample (d member samples), the learning excluded; judged samples keep teaching the model and the
/// components are refreshed every 500 of them, as at the default `refresh_samples`, so the refresh is in the figure.
func groupCost(dimension d: Int, rows: Int) -> Measurement {
    let learningRows = 2000
    let data = groupRows(dimension: d, rows: learningRows + rows, seed: UInt64(d))
    var configuration = GroupConfiguration(name: "bench-\(d)")
    configuration.learning = .seconds(Int64(learningRows / 2))
    configuration.method = .ewma
    var learned = GroupDetector(configuration: configuration)
    for member in 0..<d { _ = learned.join(Series(name: "bench.m\(member)", unit: "")) }
    _ = feed(&learned, data[0..<learningRows], from: 0)
    precondition(learned.summary.learningSamples < learningRows, "the group must have finished learning")
    let result = best(of: 3) {
        var detector = learned
        _ = feed(&detector, data[learningRows...], from: learningRows)
        return rows
    }
    return Measurement(name: "group detector, d = \(d) (per group sample)", value: Double(result.count) / result.seconds,
                       unit: "samples/s")
}

/// Memory of a learned group of `d` members: the heap bytes in use (glibc's `mallinfo2` through CMallocTuning, exact
/// where RSS growth hides in freed pages) with `count` of them kept, divided by the count; the detector's inline size included.
func groupMemory(dimension d: Int, count: Int) -> Measurement {
    let learningRows = max(400, 25 * d)
    let data = groupRows(dimension: d, rows: learningRows + 100, seed: UInt64(100 + d))
    var groups: [GroupDetector] = []
    groups.reserveCapacity(count)
    let before = outpost_heap_bytes_in_use()
    for _ in 0..<count {
        var detector = groupDetector(dimension: d, learningRows: learningRows)
        _ = feed(&detector, data[...], from: 0)
        groups.append(detector)
    }
    let after = outpost_heap_bytes_in_use()
    precondition(groups.allSatisfy { $0.summary.learningSamples < $0.summary.samples })
    let perGroup = Double(after - before) / Double(count) + Double(MemoryLayout<GroupDetector>.stride)
    return Measurement(name: "group detector state, d = \(d) (learned; heap in use over \(count) groups + inline)",
                       value: perGroup, unit: "B")
}

if CommandLine.arguments.dropFirst().first == "groups" {
    print("| benchmark | result |")
    print("| --- | ---: |")
    for measurement in [groupMemory(dimension: 8, count: 200), groupMemory(dimension: 32, count: 200),
                        groupCost(dimension: 8, rows: 200_000), groupCost(dimension: 32, rows: 50_000)]
    {
        let perSample = measurement.unit == "samples/s"
            ? "\(Int(measurement.value.rounded())) group samples/s (\((1e7 / measurement.value).rounded() / 10) µs each)"
            : "\(Int(measurement.value.rounded())) \(measurement.unit)"
        print("| \(measurement.name) | \(perSample) |")
    }
    exit(0)
}

if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "compression" {
    try compressionMode(Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}

let measurements = [
    detectionOnly(samples: 2_000_000),
    detectionOnly(samples: 2_000_000, bare: true),
    simulatedThroughDetection(series: 100, ticks: 10_000),
    replayFile(rows: 1_000_000),
    hostPoll(),
] + detectionMemory() + wireBytesPerSample() + storePipeline()
print("| benchmark | result |")
print("| --- | ---: |")
for measurement in measurements {
    let rounded = measurement.value >= 100 ? String(Int(measurement.value.rounded()))
        : String((measurement.value * 10).rounded() / 10)
    let microseconds = String((1e7 / measurement.value).rounded() / 10)
    let perSample = measurement.unit == "samples/s" ? " (\(microseconds) µs/sample)" : ""
    print("| \(measurement.name) | \(rounded) \(measurement.unit)\(perSample) |")
}
