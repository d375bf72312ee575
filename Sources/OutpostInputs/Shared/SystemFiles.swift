#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file or directory could not be read, with the system's own words.
package struct SystemFileError: Error, Sendable, CustomStringConvertible {
    package let path: String
    package let reason: String

    package var description: String { "cannot read \(path): \(reason)" }

    static func current(_ path: String) -> SystemFileError {
        SystemFileError(path: path, reason: String(cString: strerror(errno)))
    }
}

/// Small POSIX file helpers for `/proc`, `/sys` and sensor files, whose sizes the kernel reports as 0.
package enum SystemFiles {
    /// The whole file as text, read until end of file, at most `limit` bytes.
    package static func read(_ path: String, limit: Int = 1 << 20) throws(SystemFileError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SystemFileError.current(path) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemFileError.current(path)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes.prefix(limit), as: UTF8.self)
    }

    /// Names in a directory (without `.` and `..`), sorted, or an empty list when it does not exist.
    package static func list(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Total and available bytes of the filesystem holding `path`.
    package static func filesystemSpace(_ path: String) throws(SystemFileError) -> (total: Double, free: Double) {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { throw SystemFileError.current(path) }
        let blockSize = Double(stats.f_frsize)
        return (Double(stats.f_blocks) * blockSize, Double(stats.f_bavail) * blockSize)
    }
}
