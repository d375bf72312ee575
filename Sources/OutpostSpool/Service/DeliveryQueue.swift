import OutpostCore

/// The spool as a delivery loop sees it. The runtime's spool service implements it on the spool's own thread.
///
/// The `mark…` calls throw when the spool cannot record the outcome (disk full, I/O error). The loop then backs off
/// and records it again later, without sending the batch again; an implementation that cannot tell (one that does
/// not throw) is caught anyway: a batch offered again right after it was marked delivered means the mark failed.
package protocol DeliveryQueue: Sendable {
    /// The next batch for `uplink`: alerts first (any age), then live batches (created at or after `liveSince`, wall
    /// clock), then, when `includeBacklog`, the oldest of the rest, first in first out.
    func nextBatch(for uplink: String, now: Int64, liveSince: Int64, includeBacklog: Bool) async -> SpooledBatch?
    func markDelivered(_ sequence: Int64, by uplink: String) async throws
    func markDeferred(_ sequence: Int64, by uplink: String, until nextAttempt: Int64, error: String) async throws
    func markRejected(_ sequence: Int64, by uplink: String) async throws
    /// `uplink` put `bytes` on the wire (an attempt's request and response, delivered or not) at `now` (wall clock):
    /// counted against its budgets while its link is metered.
    func spent(_ bytes: Int, by uplink: String, now: Int64) async
}

extension DeliveryQueue {
    /// A queue that keeps no budgets ignores what was spent.
    package func spent(_ bytes: Int, by uplink: String, now: Int64) async {}
}
