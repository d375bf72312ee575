import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The gateway's local time zone, as the C library would find it: `$TZ` (`:Europe/Berlin`, `Europe/Berlin`, a path,
/// or a POSIX rule such as `CET-1CEST,M3.5.0,M10.5.0/3`), else `/etc/localtime`, else UTC. The one place that knows
/// where the tz database lives (`$TZDIR`, else `/usr/share/zoneinfo`).
///
/// The file is read again when it changes (checked at most once a minute), so `timedatectl set-timezone` reaches a
/// running Outpost's sync windows and budget periods without a restart.
package final class SystemTimeZone: Sendable {
    private let environment: [String: String]
    private let cache = Mutex<Cache?>(nil)
    /// How often the zone's file is looked at again, in wall-clock seconds.
    private static let recheckSeconds: Int64 = 60

    private struct Cache {
        let rules: TimeZoneRules
        let path: String?
        let modified: Int64
        let checked: Int64
    }

    package init(environment: [String: String]) {
        self.environment = environment
    }

    /// The rules in force, read again if their file changed since the last look (at most once a minute).
    package func rules(nowSeconds: Int64) -> TimeZoneRules {
        if let cached = cache.withLock({ $0 }), abs(nowSeconds - cached.checked) < Self.recheckSeconds {
            return cached.rules
        }
        let (path, inline) = source
        let modified = path.map(Self.modificationTime) ?? 0
        if let cached = cache.withLock({ $0 }), cached.path == path, cached.modified == modified {
            cache.withLock { $0 = Cache(rules: cached.rules, path: path, modified: modified, checked: nowSeconds) }
            return cached.rules
        }
        let rules = inline ?? path.flatMap(Self.load) ?? .utc
        cache.withLock { $0 = Cache(rules: rules, path: path, modified: modified, checked: nowSeconds) }
        return rules
    }

    /// The file to read, or rules given inline by `$TZ`.
    private var source: (path: String?, inline: TimeZoneRules?) {
        guard var tz = environment["TZ"], !tz.isEmpty else { return ("/etc/localtime", nil) }
        if tz.hasPrefix(":") { tz.removeFirst() }
        if tz.hasPrefix("/") { return (tz, nil) }
        let directory = environment["TZDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/share/zoneinfo"
        let candidate = directory + "/" + tz
        if !tz.contains(".."), Self.modificationTime(candidate) != 0 { return (candidate, nil) }
        return (nil, TimeZoneRules.posix(tz) ?? .utc)
    }

    /// A zone file by path (`/usr/share/zoneinfo/Europe/Berlin`), or nil when it cannot be read as one.
    package static func load(_ path: String) -> TimeZoneRules? {
        guard let bytes = readFile(path, limit: 1 << 20) else { return nil }
        let name = path.hasPrefix("/usr/share/zoneinfo/") ? String(path.dropFirst(20)) : path
        return TimeZoneRules.tzif(bytes, name: name)
    }

    private static func modificationTime(_ path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int64(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_mtim.tv_nsec) &+ Int64(info.st_ino)
    }

    private static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while bytes.count <= limit {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return count == 0 ? bytes : nil }
            bytes += chunk[0..<count]
        }
        return nil
    }
}
