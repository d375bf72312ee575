/// Lets one fault through per run of identical failures: a disconnected sensor is reported once, then stays quiet
/// until it recovers or fails differently.
package struct FaultLatch: Sendable {
    private var last: String?

    package init() {}

    /// Whether `reason` is new and should be reported now.
    package mutating func shouldReport(_ reason: String) -> Bool {
        defer { last = reason }
        return reason != last
    }

    /// The sensor read successfully: the next fault is news again.
    package mutating func clear() {
        last = nil
    }
}
