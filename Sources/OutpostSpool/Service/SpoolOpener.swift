import OutpostCore

#if canImport(Glibc)
import Glibc
#endif

/// Opens the spool file and decides what may be done to a file that is already there.
package struct SpoolOpener: Sendable {
    package let path: String
    package let maxBytes: Int
    package let destinations: [SpoolDestination]
    package let stateDirectory: String?
    package var eviction = EvictionRule()

    /// Opens the spool: creates the folder, refuses what is not Outpost's to touch, replaces a damaged file.
    package func open(now: Int64) throws(StartupError) -> (SQLiteSpool, SpoolReset?) {
        try prepareFolder()
        if let refusal = OwnedFile.refusal(path) {
            throw StartupError("[spool] path: \(refusal). Outpost refuses to open it as its spool.")
        }
        do throws(SQLiteError) {
            return (try fresh(), nil)
        } catch where error.isUnusableFile {
            guard mayMoveAside else {
                throw StartupError("""
                    [spool] path: \(path) is not an Outpost spool (\(error)) and lies outside state_dir \
                    (\(stateDirectory ?? "not set")): Outpost does not move or replace a file it cannot tell is \
                    its own. Point [spool] path at a new file, or move this one away yourself.
                    """)
            }
            let aside = SQLiteSpool.moveAside(path, now: now)
            do throws(SQLiteError) {
                let spool = try fresh()
                return (spool, salvage(aside, into: spool, cause: error.description))
            } catch {
                throw StartupError("cannot create a new spool at \(path) after moving the old one aside: \(error)")
            }
        } catch {
            throw StartupError("""
                cannot open the spool \(path): \(error). Check that the folder exists and that Outpost's user \
                (uid \(getuid())) may write it (state_dir, or [spool] path).
                """)
        }
    }

    /// A damaged file may be moved aside when it is in Outpost's own folder or carries Outpost's mark.
    private var mayMoveAside: Bool {
        stateDirectory.map { OwnedFile.isInside(path, directory: $0) } == true || SQLiteSpool.isOutpostDatabase(path)
    }

    package func fresh() throws(SQLiteError) -> SQLiteSpool {
        try SQLiteSpool(path: path, maxBytes: maxBytes, destinations: destinations, eviction: eviction)
    }

    package func salvage(_ aside: String, into spool: SQLiteSpool, cause: String) -> SpoolReset {
        SpoolReset(path: path, aside: aside, cause: cause, salvage: spool.salvage(from: aside))
    }

    /// Creates the spool's folder (and its parents) if needed, and says clearly when that is impossible.
    private func prepareFolder() throws(StartupError) {
        var folder = ""
        for component in path.split(separator: "/").dropLast() {
            folder += "/" + component
            if mkdir(folder, 0o750) != 0, errno != EEXIST {
                throw StartupError("cannot create the folder \(folder) for the spool \(path): "
                    + "\(String(cString: strerror(errno))). Create it for Outpost's user (uid \(getuid())) or "
                    + "change state_dir.")
            }
        }
        guard !folder.isEmpty else { return }
        guard OwnedFile.kind(of: folder) == .directory || isDirectoryThroughLink(folder) else {
            throw StartupError("the spool's folder \(folder) is not a directory. Fix state_dir or [spool] path.")
        }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw StartupError("Outpost (uid \(getuid())) cannot write the spool's folder \(folder): "
                + "\(String(cString: strerror(errno))). Give it write access or change state_dir.")
        }
    }

    private func isDirectoryThroughLink(_ folder: String) -> Bool {
        var info = stat()
        return stat(folder, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}
