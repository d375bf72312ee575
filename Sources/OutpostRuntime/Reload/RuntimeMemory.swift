import OutpostCore
import OutpostDelivery
import OutpostDetect
import OutpostSpool
import Synchronization

/// What outlives one pipeline: the counters (so the status and the self-metrics do not start over), the input
/// slots, and the detection state a pipeline restart hands to the next pipeline.
final class RuntimeMemory: Sendable {
    let counters: PipelineCounters
    let detection = DetectionHandover()
    private let slots = Mutex<[String: Int]>([:])

    init(startedAt: Int64) {
        counters = PipelineCounters(inputCount: 0, startedAt: startedAt)
    }

    /// The slot of the input known as `key` (see `ReloadPlan.inputKeys`): the same across reloads, never another
    /// input's. Counters, detection sources and the sample gate are indexed by it.
    func slot(for key: String) -> Int {
        let slot = slots.withLock { slots in
            if let slot = slots[key] { return slot }
            slots[key] = slots.count
            return slots.count - 1
        }
        counters.update { totals in
            if slot >= totals.inputs.count {
                totals.inputs += Array(repeating: PipelineCounters.InputTotals(), count: slot + 1 - totals.inputs.count)
            }
        }
        return slot
    }

    var slotCount: Int { slots.withLock { $0.count } }
}

/// What the status file, the HTTP endpoint and OpAMP read about the running pipeline, swapped whole by a reload.
final class PipelineView: Sendable {
    struct State: Sendable {
        var configuration: OutpostConfiguration
        /// The slot of each of `configuration.inputs`, in the same order.
        var inputSlots: [Int]
        var uplinks: [DeliveryLoop]
        var spool: SpoolService?
    }

    private let state: Mutex<State>

    init(_ state: State) {
        self.state = Mutex(state)
    }

    var current: State { state.withLock { $0 } }

    func update(_ change: (inout State) -> Void) {
        state.withLock { change(&$0) }
    }
}
