import OutpostCore

#if canImport(Glibc)
import Glibc
#endif

/// Where the last remote configuration that applied is kept (`<state_dir>/opamp/remote.toml`, and the server's
/// hash of it beside it), so a restarted gateway runs it again and does not apply it twice; and the agent's
/// instance UID (`<state_dir>/opamp/instance_uid`).
package struct RemoteConfigStore: Sendable {
    package let directory: String

    package init(stateDirectory: String) {
        directory = stateDirectory + "/opamp"
    }

    package var configPath: String { directory + "/remote.toml" }
    /// The last configuration refused, kept so that the `file:line:column` of its errors point into it.
    package var refusedPath: String { directory + "/refused.toml" }
    private var hashPath: String { directory + "/remote.hash" }
    private var instancePath: String { directory + "/instance_uid" }

    /// The last good remote configuration and its hash, if there is one.
    package func load() -> (text: String, hash: [UInt8])? {
        guard let text = Self.read(configPath, limit: 4 << 20) else { return nil }
        let hash = Self.read(hashPath, limit: 1024).flatMap { InstanceUID.parseHex($0) } ?? []
        return (text, hash)
    }

    /// Keeps `text` as the last good configuration: written beside, then renamed, so a power cut leaves the old or
    /// the new file, never half of one.
    package func save(text: String, hash: [UInt8]) throws(StartupError) {
        try makeDirectory()
        try write(Array(text.utf8), to: configPath)
        try write(Array(InstanceUID.text(hash).utf8), to: hashPath)
    }

    /// Keeps a refused configuration where its errors say they are.
    package func keepRefused(text: String) throws(StartupError) {
        try makeDirectory()
        try write(Array(text.utf8), to: refusedPath)
    }

    /// Forgets the remote configuration: the local file applies again at the next reload or start.
    package func clear() {
        unlink(configPath)
        unlink(hashPath)
    }

    /// The instance UID kept here, or a new one kept from now on.
    package func instanceUID(now unixMillis: Int64) -> [UInt8] {
        if let text = Self.read(instancePath, limit: 256),
            let uid = InstanceUID.parse(text.trimmingSpaces()), uid.count == 16
        {
            return uid
        }
        let uid = InstanceUID.make(unixMillis: unixMillis)
        try? makeDirectory()
        try? write(Array(InstanceUID.text(uid).utf8), to: instancePath)
        return uid
    }

    /// A small file's text, nil when it cannot be read (missing, a link, too big).
    private static func read(_ path: String, limit: Int) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count <= limit {
            let count = Glibc.read(descriptor, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[..<count]
        }
        return bytes.count <= limit ? String(decoding: bytes, as: UTF8.self) : nil
    }

    private func makeDirectory() throws(StartupError) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw StartupError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }

    private func write(_ bytes: [UInt8], to path: String) throws(StartupError) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw StartupError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            throw StartupError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

extension InstanceUID {
    /// Any number of bytes as hex digits (a server's config hash).
    static func parseHex(_ text: String) -> [UInt8]? {
        let hex = Array(text.trimmingSpaces())
        guard hex.count % 2 == 0 else { return nil }
        return stride(from: 0, to: hex.count, by: 2).compactMap { UInt8(String(hex[$0...$0 + 1]), radix: 16) }
    }
}
