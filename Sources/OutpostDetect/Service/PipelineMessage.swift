import AsyncAlgorithms
import OutpostCore

/// What flows from the inputs into detection: readings tagged with the input they came from, or a clock tick.
enum DetectionMessage: Sendable {
    case readings(input: Int, [Reading])
    /// Once a second: staleness checks and periodic logging run on it.
    case tick(now: Int64)
}

/// Detection's door for one input: tags its readings and waits while detection is behind (back-pressure).
package struct DetectionDoor: ReadingSink {
    let index: Int
    let channel: AsyncChannel<DetectionMessage>

    package func accept(_ readings: [Reading]) async {
        await channel.send(.readings(input: index, readings))
    }
}
