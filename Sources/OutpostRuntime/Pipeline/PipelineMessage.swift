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

/// The sink one input writes into: tags its readings and waits while detection is behind (back-pressure). With a
/// gate, readings stamped before the wall clock could be trusted wait in it and leave stamped right.
struct InputSink: ReadingSink {
    let index: Int
    let channel: AsyncChannel<PipelineMessage>
    var gate: SampleGate?

    func accept(_ readings: [Reading]) async {
        guard let gate else { return await channel.send(.readings(input: index, readings)) }
        let ready = gate.admit(readings, from: index)
        if !ready.isEmpty { await channel.send(.readings(input: index, ready)) }
    }
}
