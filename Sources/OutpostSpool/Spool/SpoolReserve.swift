#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Room kept on the spool's file system so that batches can always leave it, even when the disk is full.
///
/// Deleting a delivered batch is a write in WAL mode: on a full disk it fails, the batch stays, the disk stays full,
/// and nothing drains (the same batch would be offered again and again). The reserve is a file of `size` bytes
/// beside the spool, allocated with `posix_fallocate` (blocks reserved, nothing written: no SD card wear). When a
/// settle (delivered, rejected, deferred) meets a full disk, the spool removes the reserve, settles, checkpoints the
/// WAL back to nothing, and takes the reserve again before it accepts the next batch. New batches never use it.
struct SpoolReserve {
    /// Room for one checkpoint of a WAL at its limit (`SQLiteSpool.walCheckpointPages`, 128 KiB) and a few settles
    /// (each touches a handful of 4 KiB pages); small beside any spool.
    static let defaultSize = 256 << 10

    let path: String
    let size: Int

    init(spoolPath: String, size: Int = Self.defaultSize) {
        path = spoolPath + ".reserve"
        self.size = size
    }

    /// Whether the reserve is in place (a regular file of at least `size` bytes).
    var isHeld: Bool {
        if case .regular(let bytes, 1) = OwnedFile.kind(of: path) { return bytes >= size }
        return false
    }

    /// Takes the reserve if it is not held and the file system has room; false when it could not.
    @discardableResult
    func take() -> Bool {
        if isHeld { return true }
        guard OwnedFile.refusal(path) == nil else { return false }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        guard posix_fallocate(descriptor, 0, off_t(size)) == 0 else {
            unlink(path)
            return false
        }
        return true
    }

    /// Gives the room back to the file system; false when there was no reserve to give.
    func release() -> Bool {
        isHeld && unlink(path) == 0
    }
}
