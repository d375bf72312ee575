import OutpostCore

/// Replays a recorded CSV through the live pipeline, keeping the recorded timestamps.
///
/// Replayed series are exempt from staleness (their timestamps are in the past by design). For tuning detection
/// offline, `outpost replay` reads the same files without starting the runtime.
package struct ReplayInput: Input, InputKind {
    package static let kind = "replay"
    package let configuration: ReplayInputConfiguration
    private let clock: any Clock<Duration>

    package var name: String { configuration.identity.name }
    package var interval: Duration? { nil }

    package static func read(_ reader: ConfigReader, context: InputContext) -> (any InputSettings)? {
        ReplayInputConfiguration.read(reader, context: context)
    }

    package init(configuration: ReplayInputConfiguration, clock: any Clock<Duration>) {
        self.configuration = configuration
        self.clock = clock
    }

    package func run(into sink: any ReadingSink) async throws {
        let executor = BlockingExecutor(label: "replay.\(name)")
        let series = configuration.identity.series()
        let path = configuration.path
        let opened: Result<ReplayFileBox, SystemFileError> = await executor.run {
            do throws(SystemFileError) {
                let file = try ReplayFile(path: path)
                if let problem = file.readHeader() { return .failure(SystemFileError(path: path, reason: problem)) }
                return .success(ReplayFileBox(file: file))
            } catch {
                return .failure(error)
            }
        }
        let box: ReplayFileBox
        switch opened {
        case .success(let opened): box = opened
        case .failure(let error):
            await sink.accept([.problem(error.reason.hasPrefix(path) ? error.reason : error.description)])
            return
        }
        var previousTime: Int64?
        while !Task.isCancelled {
            let chunk = await executor.run { box.read(upTo: configuration.speed > 0 ? 1 : 1024) }
            guard !chunk.isEmpty else { return }
            var readings: [Reading] = []
            readings.reserveCapacity(chunk.count)
            for line in chunk {
                switch line {
                case .row(_, let time, let value):
                    if configuration.speed > 0, let previous = previousTime, time > previous {
                        try await clock.sleep(for: Self.gap(from: previous, to: time, speed: configuration.speed),
                                              tolerance: nil)
                    }
                    previousTime = time
                    readings.append(.sample(Sample(series: series, time: time, value: value)))
                case .skipped(let number, let reason):
                    readings.append(.problem("\(path):\(number): skipped: \(reason)"))
                }
            }
            await sink.accept(readings)
        }
    }
}

extension ReplayInput {
    /// The wait between two recorded times at `speed`, computed in Double (a huge recorded gap or a tiny speed must
    /// not overflow Int64) and capped at one day: a recording with a hole does not freeze the input for years.
    static func gap(from previous: Int64, to time: Int64, speed: Double) -> Duration {
        let nanos = (Double(time) - Double(previous)) / speed
        guard nanos > 0 else { return .zero }  // also NaN
        return .nanoseconds(Int64(min(nanos, 86_400e9)))
    }
}

/// Carries a `ReplayFile` between the replay task and its blocking thread.
///
/// `@unchecked Sendable` is safe because only the input's one serial `BlockingExecutor` ever touches the file:
/// every call is made from a closure run on that queue, one at a time.
final class ReplayFileBox: @unchecked Sendable {
    private let file: ReplayFile

    init(file: ReplayFile) {
        self.file = file
    }

    func read(upTo count: Int) -> [ReplayLine] {
        var lines: [ReplayLine] = []
        while lines.count < count, let line = file.next() { lines.append(line) }
        return lines
    }
}

extension ReplayInputConfiguration: InputSettings {
    package var name: String { identity.name }
    /// None: replayed series keep their recorded timestamps and are exempt from staleness.
    package var expectedInterval: Duration? { nil }

    package func makeInput(_ resources: InputResources) -> any Input {
        ReplayInput(configuration: self, clock: resources.clock)
    }
}
