import AsyncAlgorithms
import OutpostCore

/// What flows from the inputs into detection: readings tagged with the input they came from, or a clock tick.
enum DetectionMessage: Sendable {
    case readings([InputReadings])
    /// Once a second: staleness checks and periodic logging run on it.
    case tick(now: Int64)
    /// A reload's settings, in order with the readings (see DetectionService+Operations.swift).
    case reconfigure(DetectionServiceSettings)
    /// The local endpoint asks for every series' latest value.
    case latest(@Sendable ([(series: Series, value: Double?)]) -> Void)
}

/// Detection's door for one input: tags its readings and waits while detection is behind (back-pressure).
package struct DetectionDoor: ReadingSink {
    let index: Int
    let channel: AsyncChannel<DetectionMessage>

    package func accept(_ readings: [Reading]) async {
        await channel.send(.readings([InputReadings(input: index, readings: readings)]))
    }
}

/// Detection's door for a poll group: everything its inputs read on one tick, in one message.
package struct DetectionBatchDoor: ReadingBatchSink {
    let channel: AsyncChannel<DetectionMessage>

    package func accept(_ batch: [InputReadings]) async {
        await channel.send(.readings(batch))
    }
}
