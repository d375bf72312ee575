import OutpostCore

/// `[spool]`: the durable queue on the gateway.
package struct SpoolConfiguration: Sendable {
    /// `path`, default `"<state_dir>/spool.db"`: the SQLite file (WAL mode, so also `-wal` and `-shm` beside it).
    package var path: String
    /// `max_size`, default the board's `spool_max_size`, else `"64MiB"`: the bound on stored batches; the oldest
    /// metrics go first when it is reached, alerts last. Mind the SD card: the file grows to about this size and
    /// stays there.
    package var maxSize: Int64 = SpoolConfiguration.defaultMaxSize
    package static let defaultMaxSize: Int64 = 64 << 20
    /// `[gateway] state_dir`: Outpost's own folder. A damaged or foreign file at `path` is moved aside only when it
    /// lies in it (or carries Outpost's mark); anywhere else Outpost refuses to touch a file it cannot tell is its own.
    package var stateDirectory: String?
    /// `write_after`, default `"2s"`: how long a new batch is offered to its uplinks from memory before it is written.
    /// A batch every uplink confirms in that time never reaches the SD card; one still unconfirmed is written then
    /// (at once when an uplink defers or refuses it, and at stop). `"0s"` writes every batch before it is sent. The
    /// price: a crash or power cut also loses what was in flight for less than `write_after`, on top of the open
    /// batch (`[batch] max_age`). At most `"1m"`.
    package var writeAfter: Duration = .seconds(2)

    package static func read(_ reader: ConfigReader?, stateDirectory: String, boardMaxSize: Int64?) -> SpoolConfiguration {
        var spool = SpoolConfiguration(path: stateDirectory + "/spool.db", stateDirectory: stateDirectory)
        spool.maxSize = boardMaxSize ?? spool.maxSize
        guard let reader else { return spool }
        spool.path = reader.string("path", default: spool.path)
        spool.maxSize = reader.size("max_size", default: spool.maxSize)
        spool.writeAfter = reader.duration("write_after", default: spool.writeAfter)
        if spool.writeAfter > .seconds(60) {
            reader.invalid("write_after", "must be at most 1m: longer, a crash loses more than the SD card saves")
            spool.writeAfter = .seconds(60)
        }
        if spool.maxSize < 64 * 1024 { reader.invalid("max_size", "must be at least 64KiB") }
        reader.finish()
        return spool
    }
}
