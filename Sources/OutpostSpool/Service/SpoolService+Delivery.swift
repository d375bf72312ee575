import OutpostCore

extension SpoolService: DeliveryQueue {
    /// The next batch for `uplink` by the spool policy's plan (`UplinkAllowances.plan`): each step asks the staged
    /// batches and the SQLite spool, and the earlier of their candidates (`DeliveryStep.precedes`) goes. A damaged
    /// file met here is replaced and the question asked again of the new spool; other read failures answer nil (the
    /// delivery loop looks again later).
    package func nextBatch(for uplink: String, now: Int64, liveSince: Int64, includeBacklog: Bool) async
        -> SpooledBatch?
    {
        let moment = DeliveryMoment(now: now, liveSince: liveSince, includeBacklog: includeBacklog)
        let (plan, changes) = allowances.plan(for: uplink, at: moment)
        reportBudget(changes)
        for step in plan.steps {
            // Twice at most: a staged candidate written to SQLite meanwhile is found there the second time.
            for _ in 0..<2 {
                let fromMemory = staged.withLock { $0.first(for: uplink, in: step) }
                let fromDisk = await storedBatch(for: uplink, in: step)
                guard let chosen = Self.earlier(fromMemory, fromDisk, in: step) else { break }
                if chosen.sequence > 0 || staged.withLock({ $0.markSending(chosen.sequence, by: uplink) }) {
                    return chosen
                }
            }
        }
        return nil
    }

    /// `uplink` put `bytes` on the wire: counted against its budgets while its link is metered.
    package func spent(_ bytes: Int, by uplink: String, now: Int64) async {
        allowances.spend(bytes, by: uplink, now: now)
    }

    /// The one of two candidates `step` sends first. On a tie the stored one is the older (it was stored before the
    /// staged one was closed).
    static func earlier(_ staged: SpooledBatch?, _ stored: SpooledBatch?, in step: DeliveryStep) -> SpooledBatch? {
        guard let staged else { return stored }
        guard let stored else { return staged }
        let memory = (staged.batch.lane, staged.batch.created), disk = (stored.batch.lane, stored.batch.created)
        if memory == disk { return step.order == .oldestFirst ? stored : staged }
        return step.precedes(memory, disk) ? staged : stored
    }

    private func storedBatch(for uplink: String, in step: DeliveryStep) async -> SpooledBatch? {
        for _ in 0..<2 {
            let connection = self.connection
            let result = await executor.run { () -> Result<SpooledBatch?, SQLiteError> in
                if connection.isClosed { return .failure(connection.closedError) }
                do throws(SQLiteError) {
                    return .success(try connection.spool.first(for: uplink, in: step))
                } catch {
                    return .failure(error)
                }
            }
            switch result {
            case .success(let batch): return batch
            case .failure(let error):
                guard await recoverIfDamaged(error) else { return nil }
            }
        }
        return nil
    }

    /// One event per budget change: `outpost.budget.reached` when a lane starts waiting for a period to renew,
    /// `outpost.budget.renewed` when it may go again.
    private func reportBudget(_ changes: [UplinkAllowances.Change]) {
        for change in changes {
            switch change {
            case .reached(let uplink, let lane, let period, let spent, let limit, let renews):
                emit(.budgetReached, .warn, """
                    uplink \(uplink): its \(period) budget for \(lane) is spent (\(spent) bytes on the wire, limit \
                    \(limit)); \(lane) wait in the spool until it renews at \(RFC3339.format(renews)); alerts still go
                    """,
                     ["outpost.uplink": .string(uplink), "outpost.budget.period": .string(period.rawValue),
                      "outpost.spool.lane": .string(lane.description), "outpost.budget.spent_bytes": .int(spent),
                      "outpost.budget.limit_bytes": .int(limit),
                      "outpost.budget.renews": .string(RFC3339.format(renews))])
            case .renewed(let uplink, let lane, let period):
                emit(.budgetRenewed, .info, "uplink \(uplink): a new \(period) budget began; \(lane) go again",
                     ["outpost.uplink": .string(uplink), "outpost.budget.period": .string(period.rawValue),
                      "outpost.spool.lane": .string(lane.description)])
            }
        }
    }

    package func markDelivered(_ sequence: Int64, by uplink: String) async {
        // A staged batch confirmed from memory: nothing to write. (One written at stop meanwhile is sent again.)
        guard sequence > 0 else { return staged.withLock { _ = $0.confirm(sequence, by: uplink) } }
        await settle("mark a batch delivered") { (spool) throws(SQLiteError) in
            try spool.delivered(sequence, by: uplink)
        }
    }

    package func markDeferred(_ sequence: Int64, by uplink: String, until nextAttempt: Int64, error: String) async {
        // Not now: the staged batch is written at once, for every uplink still owing it.
        guard sequence > 0 else {
            guard let entry = staged.withLock({ $0.release(sequence, by: uplink) }) else { return }
            return await store([entry.batch], owing: [entry])
        }
        await settle("defer a batch") { (spool) throws(SQLiteError) in
            try spool.deferred(sequence, by: uplink, until: nextAttempt, error: error)
        }
    }

    package func markRejected(_ sequence: Int64, by uplink: String) async {
        guard sequence > 0 else { return await rejectStaged(sequence, by: uplink) }
        await settle("drop a rejected batch") { (spool) throws(SQLiteError) in
            try spool.rejected(sequence, by: uplink)
        }
    }

    /// Refused for good from memory: counted as dropped for `uplink`, and written for the uplinks still owing it.
    private func rejectStaged(_ sequence: Int64, by uplink: String) async {
        guard var entry = staged.withLock({ $0.release(sequence, by: uplink) }) else { return }
        let batch = entry.batch
        await settle("count a rejected batch") { (spool) throws(SQLiteError) in try spool.recordRejected(batch) }
        entry.owing.remove(uplink)
        if !entry.owing.isEmpty { await store([entry.batch], owing: [entry]) }
    }

    /// A delivery bookkeeping write. If it fails the batch stays for that uplink and is sent again later: at least
    /// once, never lost.
    private func settle(_ what: String, _ change: @escaping @Sendable (SQLiteSpool) throws(SQLiteError) -> Void) async {
        let connection = self.connection
        let failure = await executor.run { () -> SQLiteError? in
            if connection.isClosed { return connection.closedError }
            do throws(SQLiteError) {
                try change(connection.spool)
                return nil
            } catch {
                return error
            }
        }
        guard let failure else { return }
        logger.error("spool: cannot \(what): \(failure)")
        _ = await recoverIfDamaged(failure)
    }
}
