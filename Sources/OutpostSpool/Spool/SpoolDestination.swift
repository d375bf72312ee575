import OutpostCore

/// One uplink the spool keeps batches for, with the signals it takes. The runtime builds the list from each uplink's
/// `accepts`; the spool routes a batch to exactly the destinations that take its signal, and by nothing else (not
/// by the uplink's name).
package struct SpoolDestination: Sendable, Hashable {
    /// The uplink's name: it keys the spool's delivery rows, so it is unique among the destinations.
    package let uplink: String
    package let accepts: Set<Signal>

    package init(uplink: String, accepts: Set<Signal>) {
        self.uplink = uplink
        self.accepts = accepts
    }

    /// The accepted signals as an SQL list (`'logs','metrics'`); empty when it takes nothing. The raw values are
    /// fixed identifiers, never operator text, so they need no escaping.
    var signalList: String {
        accepts.map { "'\($0.rawValue)'" }.sorted().joined(separator: ",")
    }
}
