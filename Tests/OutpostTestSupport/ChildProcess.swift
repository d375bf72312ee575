import Foundation

/// A child process started with a clean signal state.
///
/// Foundation's `Process` passes on the test runner's blocked signals (SIGTERM, SIGINT, ...), so a broker started
/// with it cannot be stopped cleanly; `posix_spawn` with an empty mask and default handlers can.
final class ChildProcess: Sendable {
    let pid: pid_t

    init(executable: String, arguments: [String]) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, &argv, environ)
        guard status == 0 else { throw BrokerError(message: "cannot start \(executable): \(String(cString: strerror(status)))") }
        self.pid = pid
    }

    deinit {
        kill()
    }

    var isRunning: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// SIGTERM, and waits for the exit.
    func terminate() {
        signalAndWait(SIGTERM)
    }

    func kill() {
        signalAndWait(SIGKILL)
    }

    private func signalAndWait(_ signal: Int32) {
        guard Foundation.kill(pid, signal) == 0 else { return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

/// The files process `pid` has mapped (`/proc/<pid>/maps`, read to its end: procfs reports a size of 0).
public func mappedFiles(pid: Int32) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/maps") else {
        throw BrokerError(message: "no /proc/\(pid)/maps")
    }
    defer { try? handle.close() }
    return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
}
