import OutpostBatch
import OutpostCore
import OutpostDelivery
import OutpostSpool
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import ServiceLifecycle

/// The sd_notify protocol (systemd.exec(5), sd_notify(3)): datagrams like `READY=1` to the socket in
/// `$NOTIFY_SOCKET`. Written here rather than linking libsystemd, which the static binary would have to carry.
struct SystemdNotifier: Sendable {
    let socketPath: String
    /// Half of `$WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises; nil when the unit has no WatchdogSec=.
    let watchdogInterval: Duration?

    /// Nil outside systemd (no `$NOTIFY_SOCKET`), or when `$WATCHDOG_PID` names another process.
    init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], path.hasPrefix("/") || path.hasPrefix("@") else { return nil }
        socketPath = path
        let forUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        let usec = environment["WATCHDOG_USEC"].flatMap { Int64($0) }.flatMap { $0 > 0 ? $0 : nil }
        watchdogInterval = forUs ? usec.map { .microseconds($0 / 2) } : nil
    }

    /// Sends one notification; false when the socket cannot be reached (systemd gone: nothing to do about it).
    @discardableResult
    func notify(_ message: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        // An abstract socket: `@` stands for the leading NUL byte.
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.enumerated() { buffer[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let sent = message.utf8CString.withUnsafeBufferPointer { text in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, text.baseAddress, text.count - 1, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent >= 0
    }
}

/// Tells systemd the runtime is up (`READY=1`, after every service has started) and keeps its watchdog fed while
/// the detection loop is alive: if that loop stops handling its 1 s ticks, the pings stop and systemd restarts
/// Outpost after `WatchdogSec=` (the spool keeps everything accepted so far).
struct SystemdNotifyService: Service, CustomStringConvertible {
    // One line for ServiceLifecycle's log, not a reflection of every stored property (see `PollGroup`).
    var description: String { "SystemdNotifyService" }

    let notifier: SystemdNotifier
    let counters: PipelineCounters
    let clock: any Clock<Duration>
    let logger: Logger

    func run() async throws {
        notifier.notify("READY=1\nSTATUS=running")
        logger.debug("systemd: READY=1 sent to \(notifier.socketPath)")
        if let interval = notifier.watchdogInterval {
            await cancelWhenGracefulShutdown { await feedWatchdog(every: interval) }
        } else {
            try? await gracefulShutdown()
        }
        notifier.notify("STOPPING=1")
    }

    private func feedWatchdog(every interval: Duration) async {
        var lastSeen = counters.heartbeatCount
        // The first ping at once: the pipeline has just started and has had no chance to tick.
        notifier.notify("WATCHDOG=1")
        while !Task.isCancelled {
            do { try await clock.sleep(for: interval) } catch { return }
            let now = counters.heartbeatCount
            if now != lastSeen {
                notifier.notify("WATCHDOG=1")
            } else {
                logger.error("the detection loop has not ticked for \(interval); withholding the watchdog ping")
            }
            lastSeen = now
        }
    }
}
