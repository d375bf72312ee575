import AsyncAlgorithms
import OutpostCore

/// What flows from the inputs to detection: readings tagged with the input they came from, or a clock tick.
enum PipelineMessage: Sendable {
    case readings(input: Int, [Reading])
    /// Events from the runtime itself (the spool's drops and failures).
    case events([Event])
    /// Once a second: staleness checks and periodic logging run on it.
    case tick(now: Int64)
}

/// The sink one input writes into: tags its readings and waits while detection is behind (back-pressure).
struct InputSink: ReadingSink {
    let index: Int
    let channel: AsyncChannel<PipelineMessage>

    func accept(_ readings: [Reading]) async {
        await channel.send(.readings(input: index, readings))
    }
}
