#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import OutpostCore
import Synchronization

/// What a finished (or killed) command left behind.
package struct CommandResult: Sendable {
    package var exitStatus: Int32?
    package var standardOutput: String
    package var standardError: String
    /// The command outlived its timeout and its process group was killed.
    package var timedOut: Bool
    /// The caller was cancelled (Outpost stops): the command's process group was killed, nothing was read.
    package var cancelled = false
    /// Set when the command could not be started at all.
    package var launchError: String?

    init(exitStatus: Int32? = nil, standardOutput: String = "", standardError: String = "", timedOut: Bool = false) {
        self.exitStatus = exitStatus
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.timedOut = timedOut
    }
}

/// Runs the commands of every exec input on one thread of its own (`outpost-exec`), never on a reader thread.
///
/// The timeout covers the whole run, output and exit: at the deadline the command's process group is killed
/// whatever state its pipes are in (a script that starts with `exec >/dev/null 2>&1` and then hangs has closed its
/// output long before). The caller is answered at once; reaping the killed process happens later on this thread,
/// without blocking anything (a process stuck in uninterruptible sleep stays a zombie until the kernel lets it go).
/// A cancelled caller (Outpost stopping) kills its command the same way and is answered at once, so a stop never
/// waits for a command.
///
/// One `poll` loop watches every running command's stdout and stderr, its exit (`waitpid` with `WNOHANG`), and its
/// deadline; a pipe wakes it for new commands and cancellations. The thread starts with the first command, so a
/// gateway without exec inputs has none.
package final class CommandSupervisor: Sendable {
    package static let shared = CommandSupervisor()

    /// stderr is kept only for the fault message.
    static let maximumErrorOutput = 4096

    fileprivate struct Request: Sendable {
        let arguments: [String]
        let timeout: Duration
        let maxOutput: Int
        let cancel: CancelFlag
        let done: @Sendable (CommandResult) -> Void
    }

    private struct State {
        var requests: [Request] = []
        var started = false
    }

    private let state = Mutex(State())
    /// Wakes the loop's `poll`: written by callers, drained by the loop. Both ends non-blocking.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init() {
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0, "cannot create the exec supervisor's wake pipe")
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        wakeRead = ends[0]
        wakeWrite = ends[1]
    }

    /// Runs `arguments` (the program found on PATH) with stdin from /dev/null, collecting up to `maxOutput` bytes of
    /// stdout; kills the whole process group `timeout` after the start.
    package func run(_ arguments: [String], timeout: Duration, maxOutput: Int) async -> CommandResult {
        let cancel = CancelFlag()
        let answer = ResumeOnce<CommandResult>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                answer.set(continuation)
                let request = Request(arguments: arguments, timeout: timeout, maxOutput: maxOutput, cancel: cancel,
                                      done: { answer.resume($0) })
                let first = state.withLock { state -> Bool in
                    state.requests.append(request)
                    defer { state.started = true }
                    return !state.started
                }
                if first { WorkerThread.start(name: "outpost-exec") { [self] in supervise() } }
                wake()
            }
        } onCancel: {
            cancel.set()
            wake()
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    // MARK: The supervisor thread

    private func supervise() {
        var running: [RunningCommand] = []
        var reaping: [pid_t] = []
        while true {
            for request in state.withLock({ state in defer { state.requests = [] }; return state.requests }) {
                if request.cancel.isSet {
                    request.done(Self.cancelledResult)
                } else if let command = RunningCommand.start(request) {
                    running.append(command)
                }
            }
            waitForActivity(running, reaping: reaping)
            let now = monotonicNanos()
            running.removeAll { command in
                command.readAvailable()
                if command.request.cancel.isSet {
                    stop(command, into: &reaping)
                    command.request.done(Self.cancelledResult)
                    return true
                }
                if let result = command.finishedResult() {
                    command.request.done(result)
                    return true
                }
                guard now >= command.deadline else { return false }
                stop(command, into: &reaping)
                command.request.done(command.result(timedOut: true))
                return true
            }
            reaping.removeAll { pid in
                var status: Int32 = 0
                let reaped = waitpid(pid, &status, WNOHANG)
                return reaped == pid || (reaped < 0 && errno == ECHILD)
            }
        }
    }

    /// Kills the command's process group, closes its pipes, and reaps it now if it is gone already, else later.
    private func stop(_ command: RunningCommand, into reaping: inout [pid_t]) {
        kill(-command.pid, SIGKILL)
        command.closePipes()
        if !command.reap() { reaping.append(command.pid) }
    }

    /// Sleeps in `poll` until a pipe has data, a command is due (deadline, or a look at whether it exited), or a
    /// caller wakes the loop.
    private func waitForActivity(_ running: [RunningCommand], reaping: [pid_t]) {
        var descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        for command in running {
            for descriptor in command.openDescriptors {
                descriptors.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0))
            }
        }
        let now = monotonicNanos()
        var wait: Int64? = reaping.isEmpty ? nil : 1000
        for command in running {
            var due = max(0, (command.deadline - now) / 1_000_000 + 1)
            if let exitCheck = command.nextExitCheck { due = min(due, exitCheck) }
            wait = min(wait ?? due, due)
        }
        _ = poll(&descriptors, nfds_t(descriptors.count), Int32(clamping: wait ?? -1))
        var drain = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &drain, drain.count) > 0 {}
        for (index, descriptor) in descriptors.enumerated().dropFirst() where descriptor.revents != 0 {
            running.first { $0.openDescriptors.contains(descriptors[index].fd) }?.markReady(descriptor.fd)
        }
    }

    private static let cancelledResult: CommandResult = {
        var result = CommandResult()
        result.cancelled = true
        return result
    }()
}

/// One command between its start and its end, owned by the supervisor thread alone.
private final class RunningCommand {
    let request: CommandSupervisor.Request
    let pid: pid_t
    let deadline: Int64
    private var output: [UInt8] = []
    private var errors: [UInt8] = []
    private var standardOutput: Int32
    private var standardError: Int32
    private var ready: Set<Int32> = []
    private var status: Int32?
    /// Milliseconds until the next look at whether a command with closed pipes has exited (doubling to 100 ms).
    private var exitBackoff: Int64 = 1

    private init(request: CommandSupervisor.Request, pid: pid_t, out: Int32, err: Int32) {
        self.request = request
        self.pid = pid
        self.standardOutput = out
        self.standardError = err
        deadline = monotonicNanos() &+ UnixNanos.from(request.timeout)
    }

    var openDescriptors: [Int32] { [standardOutput, standardError].filter { $0 >= 0 } }

    /// While both pipes are closed and the command has not exited: when to look again, in milliseconds.
    var nextExitCheck: Int64? { openDescriptors.isEmpty && status == nil ? exitBackoff : nil }

    func markReady(_ descriptor: Int32) {
        ready.insert(descriptor)
    }

    /// Spawns the command in a process group of its own; a launch failure is answered at once (nil).
    static func start(_ request: CommandSupervisor.Request) -> RunningCommand? {
        guard let program = request.arguments.first else {
            request.done(failure("empty command"))
            return nil
        }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard makePipe(&outPipe) else {
            request.done(failure("pipe: \(String(cString: strerror(errno)))"))
            return nil
        }
        guard makePipe(&errPipe) else {
            close(outPipe[0])
            close(outPipe[1])
            request.done(failure("pipe: \(String(cString: strerror(errno)))"))
            return nil
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
        posix_spawnattr_setflags(&attributes,
                                 Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)

        var argv: [UnsafeMutablePointer<CChar>?] = request.arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawnStatus = posix_spawnp(&pid, program, &actions, &attributes, &argv, environ)
        close(outPipe[1])
        close(errPipe[1])
        guard spawnStatus == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            request.done(failure("cannot start `\(program)`: \(String(cString: strerror(spawnStatus)))"))
            return nil
        }
        for end in [outPipe[0], errPipe[0]] { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
        return RunningCommand(request: request, pid: pid, out: outPipe[0], err: errPipe[0])
    }

    /// Reads what the pipes `poll` found ready hold; a pipe at end of file is closed.
    func readAvailable() {
        var buffer = [UInt8](repeating: 0, count: 16384)
        for descriptor in ready {
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    keep(buffer[0..<count], from: descriptor)
                    continue
                }
                if count == 0 || (errno != EAGAIN && errno != EINTR) { closeDescriptor(descriptor) }
                if count < 0 && errno == EINTR { continue }
                break
            }
        }
        ready.removeAll()
    }

    private func keep(_ bytes: ArraySlice<UInt8>, from descriptor: Int32) {
        // Output beyond the limits is read and dropped: the command must not block on a full pipe.
        if descriptor == standardOutput, output.count < request.maxOutput {
            output.append(contentsOf: bytes.prefix(request.maxOutput - output.count))
        } else if descriptor == standardError, errors.count < CommandSupervisor.maximumErrorOutput {
            errors.append(contentsOf: bytes.prefix(CommandSupervisor.maximumErrorOutput - errors.count))
        }
    }

    private func closeDescriptor(_ descriptor: Int32) {
        close(descriptor)
        if descriptor == standardOutput { standardOutput = -1 }
        if descriptor == standardError { standardError = -1 }
    }

    func closePipes() {
        for descriptor in openDescriptors { closeDescriptor(descriptor) }
    }

    /// The result once both pipes are at end of file and the process has exited, else nil.
    func finishedResult() -> CommandResult? {
        guard openDescriptors.isEmpty else { return nil }
        guard reap() else {
            exitBackoff = min(exitBackoff * 2, 100)
            return nil
        }
        return result(timedOut: false)
    }

    /// Collects the exit status if the process has exited; true once it has.
    @discardableResult
    func reap() -> Bool {
        if status != nil { return true }
        var raw: Int32 = 0
        let reaped = waitpid(pid, &raw, WNOHANG)
        if reaped == pid {
            status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            return true
        }
        return reaped < 0 && errno == ECHILD
    }

    func result(timedOut: Bool) -> CommandResult {
        CommandResult(exitStatus: status, standardOutput: String(decoding: output, as: UTF8.self),
                      standardError: String(decoding: errors, as: UTF8.self), timedOut: timedOut)
    }

    private static func failure(_ reason: String) -> CommandResult {
        var result = CommandResult()
        result.launchError = reason
        return result
    }

    /// A pipe whose ends close on exec, so a command started concurrently does not inherit (and hold open) them.
    private static func makePipe(_ ends: inout [Int32]) -> Bool {
        guard pipe(&ends) == 0 else { return false }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return true
    }
}

/// Set once by a cancelled caller; read by the supervisor thread.
private final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}

private func monotonicNanos() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}
