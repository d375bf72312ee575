import OutpostCore
import Synchronization

/// The spool connection, handed between tasks but used only on the spool's serial executor.
///
/// `@unchecked Sendable` is safe because `spool` is read and replaced only inside `BlockingExecutor.run` closures
/// of the one `SpoolService` executor (a serial queue), so SQLite is never entered from two threads at once; the
/// few flags read from other tasks live in a mutex.
package final class SpoolConnection: @unchecked Sendable {
    private(set) var spool: SQLiteSpool
    private let flags = Mutex(Flags())

    private struct Flags {
        var closed = false
        /// Where the damaged file went, while no fresh spool could be opened yet (its salvage is still owed).
        var asideAwaitingSalvage: (path: String, cause: String)?
        var reset: SpoolReset?
    }

    package init(_ opened: (SQLiteSpool, SpoolReset?)) {
        spool = opened.0
        flags.withLock { $0.reset = opened.1 }
    }

    package var isClosed: Bool { flags.withLock { $0.closed } }
    var closedError: SQLiteError {
        SQLiteError(code: 21, message: "no spool is open (a damaged one was moved aside and a new one could not be "
                        + "created yet)", sql: nil)
    }

    /// The reset that happened last, once.
    package func takeReset() -> SpoolReset? {
        flags.withLock { flags in
            defer { flags.reset = nil }
            return flags.reset
        }
    }

    /// On the executor: closes the damaged spool, moves its files aside, opens a fresh one and salvages into it.
    package func replace(using opener: SpoolOpener, after error: SQLiteError, now: Int64) -> Bool {
        guard !isClosed else { return reopen(using: opener) }
        spool.close()
        let aside = SQLiteSpool.moveAside(opener.path, now: now)
        flags.withLock { $0 = Flags(closed: true, asideAwaitingSalvage: (aside, error.description)) }
        return reopen(using: opener)
    }

    /// On the executor: opens a fresh spool and salvages the damaged one into it, if that is still owed.
    package func reopen(using opener: SpoolOpener) -> Bool {
        guard let (aside, cause) = flags.withLock({ $0.asideAwaitingSalvage }) else { return false }
        do throws(SQLiteError) {
            let fresh = try opener.fresh()
            let reset = opener.salvage(aside, into: fresh, cause: cause)
            spool = fresh
            flags.withLock { $0 = Flags(closed: false, asideAwaitingSalvage: nil, reset: reset) }
            return true
        } catch {
            return false
        }
    }
}

/// A damaged spool replaced by a fresh one: where it went, why, and what was salvaged from it.
package struct SpoolReset: Sendable {
    package let path: String
    package let aside: String
    package let cause: String
    package let salvage: SpoolSalvage

    package var message: String {
        var text = "the spool \(path) could not be used (\(cause)); moved it to \(aside) and started a new one"
        text += "; salvaged \(salvage.batches) batch(es) (\(salvage.items) items)"
        if salvage.unreadable > 0 { text += ", up to \(salvage.unreadable) batch(es) could not be read and are lost" }
        if let failure = salvage.failure { text += "; nothing more could be read: \(failure)" }
        return text + ". `outpost spool export --spool \(aside)` reads what is left in the old file."
    }
}
