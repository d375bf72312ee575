import OutpostCore

/// Which batch an uplink gets next, as steps every queue answers the same way (the SQLite spool, the staged
/// batches): the first step that finds a batch wins, and within a step the queues' candidates are compared with
/// `precedes`. `SpoolPolicy.plan` makes it; nothing else decides delivery order.
package struct DeliveryPlan: Sendable, Equatable {
    package var steps: [DeliveryStep]
    /// Lanes this uplink may not send now, and why (a spent budget, a closed sync window): what `outpost status`
    /// shows as held.
    package var held: [Lane: HoldReason]

    package init(steps: [DeliveryStep], held: [Lane: HoldReason] = [:]) {
        self.steps = steps
        self.held = held
    }
}

/// One step of a plan: the batches it admits and the order among them.
package struct DeliveryStep: Sendable, Equatable {
    /// Lanes this step takes; among them, alerts before events before metrics (`Lane`'s order).
    package var lanes: Set<Lane>
    /// Only batches created at or after this (wall-clock nanoseconds): the live ones. Nil: any age.
    package var createdSince: Int64?
    /// Within a lane: oldest first, or newest first (a backlog drained so dashboards catch up first).
    package var order: DrainOrder

    package init(lanes: Set<Lane>, createdSince: Int64? = nil, order: DrainOrder = .oldestFirst) {
        self.lanes = lanes
        self.createdSince = createdSince
        self.order = order
    }

    package func admits(_ batch: Batch) -> Bool {
        lanes.contains(batch.lane) && createdSince.map { batch.created >= $0 } ?? true
    }

    /// Whether `a` goes before `b` in this step. `a` and `b` are (lane, age rank): the rank grows with age order in
    /// the queue (the sequence number of a stored batch, the creation time across queues).
    package func precedes(_ a: (lane: Lane, rank: Int64), _ b: (lane: Lane, rank: Int64)) -> Bool {
        if a.lane != b.lane { return a.lane < b.lane }
        return order == .oldestFirst ? a.rank < b.rank : a.rank > b.rank
    }
}

/// The order a backlog drains in: `drain_order`.
package enum DrainOrder: String, Sendable, Equatable, CaseIterable {
    /// `"oldest"`: first in, first out (the default): a backend sees data in the order it happened.
    case oldestFirst = "oldest"
    /// `"newest"`: the latest first, so dashboards catch up before history fills in.
    case newestFirst = "newest"
}

/// Why a lane waits for an uplink.
package enum HoldReason: Sendable, Equatable, CustomStringConvertible {
    /// Outside every sync window; `opens` is when the next one opens (unix nanoseconds), when known.
    case outsideSyncWindow(opens: Int64?)
    /// The budget for this lane is spent until the period renews (`renews`, unix nanoseconds).
    case budgetSpent(period: BudgetPeriodKind, renews: Int64?)

    package var description: String { description(local: RFC3339.format) }

    /// The reason, with its times written by `local` (local wall time in the status file).
    package func description(local: (Int64) -> String) -> String {
        switch self {
        case .outsideSyncWindow(let opens):
            "outside the sync windows" + (opens.map { " until " + local($0) } ?? "")
        case .budgetSpent(let period, let renews):
            "the \(period) budget is spent" + (renews.map { " until " + local($0) } ?? "")
        }
    }

    /// A short machine-readable word for the status file and self-metrics.
    package var code: String {
        switch self {
        case .outsideSyncWindow: "sync_window"
        case .budgetSpent(let period, _): "\(period)_budget"
        }
    }
}
