import OutpostCore
import Synchronization

/// Which input first produced each series, for rules set per input that a later stage applies by series (an
/// input's `report` table, applied in the batcher). Recorded at the door to detection, so detection itself is not
/// touched; only wired in when some input has such a rule.
final class SeriesOrigins: Sendable {
    private let origins = Mutex<[Series: Int]>([:])

    /// The input (its place in the configuration) that produced `series`, once it has.
    func origin(of series: Series) -> Int? {
        origins.withLock { $0[series] }
    }

    func record(_ readings: [Reading], input: Int) {
        origins.withLock { origins in
            for reading in readings {
                switch reading {
                case .sample(let sample) where origins[sample.series] == nil: origins[sample.series] = input
                case .forgotten(let series): origins[series] = nil
                default: break
                }
            }
        }
    }
}

/// A poll group's door to detection that notes where each series came from first.
struct OriginRecordingBatchSink: ReadingBatchSink {
    let origins: SeriesOrigins
    let next: any ReadingBatchSink

    func accept(_ batch: [InputReadings]) async {
        for entry in batch { origins.record(entry.readings, input: entry.input) }
        await next.accept(batch)
    }
}

/// An input service's door to detection that notes where each series came from first.
struct OriginRecordingSink: ReadingSink {
    let input: Int
    let origins: SeriesOrigins
    let next: any ReadingSink

    func accept(_ readings: [Reading]) async {
        origins.record(readings, input: input)
        await next.accept(readings)
    }
}
