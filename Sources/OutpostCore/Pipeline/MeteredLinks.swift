import Synchronization

/// Whether each uplink's link is metered right now, as the runtime's probe last found it (`metered = "auto"`):
/// the spool holds by it, the batcher aggregates by it.
package final class MeteredLinks: Sendable {
    private let state = Mutex<[String: Bool]>([:])

    package init() {}

    /// Nil until the probe has looked.
    package func isMetered(_ uplink: String) -> Bool? {
        state.withLock { $0[uplink] }
    }

    /// Records what the probe found; true when it changed.
    @discardableResult
    package func set(_ uplink: String, metered: Bool) -> Bool {
        state.withLock { state in
            defer { state[uplink] = metered }
            return state[uplink] != metered
        }
    }
}
