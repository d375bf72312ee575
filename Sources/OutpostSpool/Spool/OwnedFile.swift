#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Checks a path before Outpost writes, replaces or moves the file there, so that a config mistake (a spool or
/// status path naming `/etc/passwd`, a link planted in the state directory) never costs someone else's file.
///
/// Outpost only ever touches a regular file with a single name (no symbolic link, no other hard link). Whether the
/// content is Outpost's is decided by the caller (`SQLiteSpool.isOutpostDatabase`, the status file's schema line).
package enum OwnedFile {
    /// What is at a path, without following a symbolic link.
    package enum Kind: Equatable, Sendable {
        case absent
        case regular(size: Int, links: Int)
        case symbolicLink
        case directory
        case other
    }

    package static func kind(of path: String) -> Kind {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .absent }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular(size: Int(info.st_size), links: Int(info.st_nlink))
        case S_IFLNK: return .symbolicLink
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    /// Why Outpost must not write or move the file at `path`, or nil when it may (absent, or a plain regular file).
    package static func refusal(_ path: String) -> String? {
        switch kind(of: path) {
        case .absent: return nil
        case .regular(_, let links) where links > 1:
            return "\(path) has \(links) hard links; Outpost does not write a file that is also known by another name"
        case .regular: return nil
        case .symbolicLink:
            return "\(path) is a symbolic link; Outpost does not follow links for the files it writes. Point the "
                + "path at the real file"
        case .directory: return "\(path) is a directory, not a file"
        case .other: return "\(path) is not a regular file (a device, socket or pipe)"
        }
    }

    /// The first `count` bytes of the file (fewer if it is shorter), or nil if it cannot be read.
    package static func head(_ path: String, count: Int) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, count - filled) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { break }
            filled += got
        }
        return Array(bytes[..<filled])
    }

    /// True when `path` lies inside `directory` (by their names, after removing `.` and repeated slashes).
    package static func isInside(_ path: String, directory: String) -> Bool {
        let parent = components(path).dropLast()
        let folder = components(directory)
        return !folder.isEmpty && parent.count >= folder.count && Array(parent.prefix(folder.count)) == folder
    }

    private static func components(_ path: String) -> [Substring] {
        path.split(separator: "/").filter { $0 != "." }
    }
}
