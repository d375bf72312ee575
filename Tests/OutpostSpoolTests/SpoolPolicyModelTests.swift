import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostSpool

/// The spool policy's reference model: the order, eviction and holding rules written the plainest way, over an
/// array. Each of the three queues the policy governs (the SQLite spool, the staged batches, the memory queue) is run
/// through the same seeded sequences of operations as this model and must answer the same at every step, after
/// Vector's model-based buffer tests (`lib/vector-buffers/src/variants/disk_v2/tests/model/`).
struct SpoolModel {
    struct Item {
        let sequence: Int64
        let batch: Batch
        var owing: Set<String>
    }

    private(set) var items: [Item] = []
    private var lastSequence: Int64 = 0
    let bound: Int
    let overhead: Int

    init(bound: Int, overhead: Int = SQLiteSpool.overheadPerBatch) {
        self.bound = bound
        self.overhead = overhead
    }

    private var total: Int { items.reduce(0) { $0 + $1.batch.payload.count + overhead } }

    /// Stores `batch`, making room the plain way: if the batch fits after dropping every batch of its own lane and
    /// the less important ones, drop the oldest metrics, then the oldest events, then the oldest alerts (never a lane
    /// more important than its own) until it fits; else refuse it. Returns the ids that went (the batch's own when
    /// refused).
    mutating func enqueue(_ batch: Batch, for uplinks: Set<String>) -> [String] {
        let size = batch.payload.count + overhead
        let order: [Lane] = [.metrics, .events, .alerts]
        let mayGo = order[...order.firstIndex(of: batch.lane)!]
        let displaceable = items.filter { mayGo.contains($0.batch.lane) }
            .reduce(0) { $0 + $1.batch.payload.count + overhead }
        guard size <= bound, total + size - displaceable <= bound else { return [batch.id] }
        var evicted: [String] = []
        for lane in mayGo {
            while total + size > bound, let index = items.firstIndex(where: { $0.batch.lane == lane }) {
                evicted.append(items.remove(at: index).batch.id)
            }
        }
        lastSequence += 1
        items.append(Item(sequence: lastSequence, batch: batch, owing: uplinks))
        return evicted
    }

    /// The batch `uplink` gets next: the first step with any candidate; in it, the highest-priority lane, then the
    /// oldest (or newest) by sequence.
    func next(for uplink: String, plan: DeliveryPlan) -> Item? {
        for step in plan.steps {
            let candidates = items.filter { item in
                item.owing.contains(uplink) && step.lanes.contains(item.batch.lane)
                    && (step.createdSince.map { item.batch.created >= $0 } ?? true)
            }
            guard let lane = candidates.map(\.batch.lane).min() else { continue }
            let inLane = candidates.filter { $0.batch.lane == lane }
            return step.order == .oldestFirst ? inLane.first : inLane.last
        }
        return nil
    }

    /// Every batch in sending order: alerts, events, metrics, oldest first.
    func listing() -> [String] {
        items.sorted { ($0.batch.lane, $0.sequence) < ($1.batch.lane, $1.sequence) }.map(\.batch.id)
    }

    mutating func delivered(_ sequence: Int64, by uplink: String) {
        guard let index = items.firstIndex(where: { $0.sequence == sequence }) else { return }
        items[index].owing.remove(uplink)
        if items[index].owing.isEmpty { items.remove(at: index) }
    }
}

/// A seeded stream of operations on a spool with two uplinks.
struct SpoolOperations {
    enum Operation {
        case enqueue(Batch, for: Set<String>)
        case next(uplink: String, plan: DeliveryPlan, deliver: Bool)
    }

    static let uplinks = ["lte", "eth"]

    static func make(seed: UInt64, count: Int) -> [Operation] {
        var random = SplitMix64(seed: seed)
        var created: Int64 = 1_000
        var operations: [Operation] = []
        for index in 0..<count {
            if Int.random(in: 0..<10, using: &random) < 6 {
                // Batches close in time order, often several at once (one tick's lanes): ties in `created` happen.
                created += Int64.random(in: 0...2, using: &random)
                let lane = [Lane.alerts, .events, .metrics, .metrics, .metrics].randomElement(using: &random)!
                let choices: [Set<String>] = [["lte"], ["eth"], ["lte", "eth"], ["lte", "eth"]]
                let owners = choices.randomElement(using: &random)!
                let batch = Batch(id: "b\(index)", lane: lane, signal: lane == .metrics ? .metrics : .logs,
                                  format: .otlpProtobuf, contentEncoding: .gzip, created: created, items: 1,
                                  uncompressedBytes: 10, payload: Array(repeating: 1, count: Int.random(in: 50...900,
                                                                                                      using: &random)))
                operations.append(.enqueue(batch, for: owners))
            } else {
                let uplink = uplinks.randomElement(using: &random)!
                var holding = UplinkHolding()
                holding.drainOrder = Bool.random(using: &random) ? .oldestFirst : .newestFirst
                // A closed window holds metrics, or metrics and events; a spent budget likewise.
                switch Int.random(in: 0..<4, using: &random) {
                case 0: holding.windows = SyncWindows([SyncWindows.Window(start: 3600, end: 7200)])
                case 1:
                    holding.windows = SyncWindows([SyncWindows.Window(start: 3600, end: 7200)])
                    holding.eventsOutsideWindows = true
                case 2: holding.budget = ByteBudget(daily: 10_000)
                default: break
                }
                let policy = SpoolPolicy(holds: [uplink: holding])
                let moment = DeliveryMoment(now: 0, liveSince: created - Int64.random(in: 0...20, using: &random),
                                            includeBacklog: Bool.random(using: &random))
                let spent: [BudgetPeriodKind: Int64] = [.daily: Int64.random(in: 8_000...10_000, using: &random)]
                let plan = policy.plan(for: uplink, at: moment, conditions: UplinkConditions(spent: spent))
                let deliver = Int.random(in: 0..<10, using: &random) < 7
                operations.append(.next(uplink: uplink, plan: plan, deliver: deliver))
            }
        }
        return operations
    }
}

@Suite("One spool policy: every queue answers as the model does")
struct SpoolPolicyModelTests {
    static let bound = 12 * (500 + SQLiteSpool.overheadPerBatch)

    @Test("the SQLite spool sends, holds and evicts exactly as the model", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func sqliteSpool(seed: UInt64) throws {
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: Self.bound,
                                    destinations: SpoolOperations.uplinks.map {
                                        SpoolDestination(uplink: $0, accepts: Signal.otlp)
                                    })
        var model = SpoolModel(bound: Self.bound)
        var stored = 0, sent = 0, held = 0
        for (step, operation) in SpoolOperations.make(seed: seed, count: 1500).enumerated() {
            switch operation {
            case .enqueue(let batch, let owners):
                let evicted = try spool.enqueue(batch, for: owners.sorted())
                let modelEvicted = model.enqueue(batch, for: owners)
                #expect(evicted.reduce(0) { $0 + $1.batches } == modelEvicted.count, "step \(step): evictions")
                #expect(try spool.batches(limit: 100).map(\.batch.id) == model.listing(), "step \(step): contents")
                stored += 1
            case .next(let uplink, let plan, let deliver):
                let actual = try spool.next(for: uplink, plan: plan)
                let expected = model.next(for: uplink, plan: plan)
                #expect(actual?.batch.id == expected?.batch.id, "step \(step): next for \(uplink)")
                if !plan.held.isEmpty { held += 1 }
                guard let actual, let expected, deliver else { continue }
                try spool.delivered(actual.sequence, by: uplink)
                model.delivered(expected.sequence, by: uplink)
                sent += 1
            }
        }
        #expect(try spool.batches(limit: 10_000).map(\.batch.id).sorted() == model.items.map(\.batch.id).sorted())
        // The run covered what it claims to: stores, sends, evictions and holds.
        #expect(stored > 500 && sent > 100 && held > 100)
        #expect(try spool.statistics().lanes.values.reduce(0) { $0 + $1.droppedBatches } > 0)
    }

    @Test("the staged batches offer batches in the model's order", arguments: [1, 2, 3] as [UInt64])
    func stagedBatches(seed: UInt64) {
        var staged = StagedBatches()
        var model = SpoolModel(bound: .max, overhead: 0)
        var offered = 0
        for (step, operation) in SpoolOperations.make(seed: seed, count: 1500).enumerated() {
            switch operation {
            case .enqueue(let batch, let owners):
                staged.stage(batch, for: owners, deadline: .max)
                _ = model.enqueue(batch, for: owners)
            case .next(let uplink, let plan, let deliver):
                let actual = staged.take(for: uplink, by: plan)
                let expected = model.next(for: uplink, plan: plan)
                #expect(actual?.batch.id == expected?.batch.id, "step \(step): next for \(uplink)")
                guard let actual, let expected else { continue }
                offered += 1
                // What is not confirmed goes back to be offered again, as a deferred batch would.
                if deliver {
                    staged.confirm(actual.sequence, by: uplink)
                    model.delivered(expected.sequence, by: uplink)
                } else {
                    staged.stopSendingForTesting(actual.sequence, by: uplink)
                }
            }
        }
        #expect(offered > 200)
    }

    @Test("the memory queue evicts what the model evicts", arguments: [1, 2, 3] as [UInt64])
    func memoryQueue(seed: UInt64) {
        var queue = MemoryQueue()
        var model = SpoolModel(bound: Self.bound, overhead: 0)
        var evictions = 0
        for operation in SpoolOperations.make(seed: seed, count: 1500) {
            guard case .enqueue(let batch, _) = operation else { continue }
            let dropped = queue.admit(batch, bound: Self.bound, by: EvictionRule())
            let modelDropped = model.enqueue(batch, for: [])
            #expect(Set(dropped.map(\.id)) == Set(modelDropped))
            #expect(queue.batches.map(\.id) == model.items.map(\.batch.id))
            evictions += dropped.count
        }
        #expect(evictions > 50)
    }
}
