#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a finished (or killed) command left behind.
package struct CommandResult: Sendable {
    package var exitStatus: Int32?
    package var standardOutput: String
    package var standardError: String
    package var timedOut: Bool
    /// Set when the command could not be started at all.
    package var launchError: String?
}

/// Runs a command with posix_spawn, collects stdout and stderr, and kills its whole process group at the timeout.
///
/// Blocking by design: callers run it on a `BlockingExecutor`, never on the cooperative pool.
package enum CommandRunner {
    package static func run(_ arguments: [String], timeout: Duration, maxOutput: Int) -> CommandResult {
        var result = CommandResult(exitStatus: nil, standardOutput: "", standardError: "", timedOut: false)
        guard let program = arguments.first else {
            result.launchError = "empty command"
            return result
        }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard makePipe(&outPipe), makePipe(&errPipe) else {
            result.launchError = "pipe: \(String(cString: strerror(errno)))"
            return result
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A process group of its own, so a timeout kills the command's children too (a shell pipeline). Signals
        // as a fresh process has them: the runtime ignores SIGTERM/SIGINT (its lifecycle catches them) and SIGPIPE,
        // and a command must not inherit that (a `head` in its pipeline would leave the writer spinning).
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawnStatus = posix_spawnp(&pid, program, &actions, &attributes, &argv, environ)
        close(outPipe[1])
        close(errPipe[1])
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        guard spawnStatus == 0 else {
            result.launchError = "cannot start `\(program)`: \(String(cString: strerror(spawnStatus)))"
            return result
        }
        let (output, errors, timedOut) = collect(out: outPipe[0], err: errPipe[0], timeout: timeout, max: maxOutput)
        if timedOut { kill(-pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        result.timedOut = timedOut
        result.standardOutput = String(decoding: output, as: UTF8.self)
        result.standardError = String(decoding: errors, as: UTF8.self)
        result.exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return result
    }

    private static func collect(out: Int32, err: Int32, timeout: Duration, max: Int)
        -> (output: [UInt8], errors: [UInt8], timedOut: Bool)
    {
        let deadline = monotonicMilliseconds() + Int64(timeout.components.seconds * 1000)
            + Int64(timeout.components.attoseconds / 1_000_000_000_000_000)
        var output: [UInt8] = [], errors: [UInt8] = []
        var open = [out, err]
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !open.isEmpty {
            let remaining = deadline - monotonicMilliseconds()
            guard remaining > 0 else { return (output, errors, true) }
            var descriptors = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(min(remaining, 1000)))
            if ready < 0 && errno != EINTR { break }
            for descriptor in descriptors where descriptor.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(descriptor.fd, $0.baseAddress, $0.count) }
                if count <= 0 {
                    open.removeAll { $0 == descriptor.fd }
                } else if descriptor.fd == out {
                    if output.count < max { output.append(contentsOf: buffer[0..<Swift.min(count, max - output.count)]) }
                } else if errors.count < 4096 {
                    errors.append(contentsOf: buffer[0..<count])
                }
            }
        }
        return (output, errors, false)
    }

    /// A pipe whose ends close on exec, so a command started concurrently does not inherit (and hold open) them.
    private static func makePipe(_ ends: inout [Int32]) -> Bool {
        guard pipe(&ends) == 0 else { return false }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return true
    }

    private static func monotonicMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
