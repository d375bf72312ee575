import OutpostCore
import Synchronization

/// One Modbus line: an RS-485 bus (one serial device, whatever units are wired to it) or one TCP server. Requests
/// on a lane never overlap, so two threads never share a `/dev/tty*` and a TCP-to-RTU gateway never sees two
/// requests at once; different lanes run side by side.
///
/// A serial bus runs on a serial queue of its own (a bus is one lane of blocking work: a silent device holds it for
/// its timeout, and nothing else should wait for that); TCP lanes run on the shared blocking pool, so any number of
/// TCP devices are read in parallel within the pool's two threads.
///
/// Every run has a deadline for the whole operation (`run(endpoint:label:deadline:_:)`): when it passes, the caller
/// gets `.deadlinePassed` at once, the read in progress is cut short where the platform allows (a TCP socket is
/// shut down), and the lane refuses new runs (`.busy`) until the late one returns, so late work never piles up.
/// The deadline is the lane's own (a watchdog task and `ResumeOnce`); a shared "deadline for every external call"
/// can replace those two pieces without changing the lane's callers.
package final class ModbusLane: Sendable {
    package enum Outcome<T: Sendable>: Sendable {
        case done(T)
        /// The deadline passed first; the run goes on until the blocking call returns, holding the lane.
        case deadlinePassed
        /// An earlier run that passed its deadline still holds the lane; this one was not started.
        case busy(String)
        /// The caller's task was cancelled (shutdown) before the run finished.
        case cancelled
    }

    private typealias Job = @Sendable () -> Void

    private struct State {
        var pending: [Job] = []
        var running = false
        /// The label of a run past its deadline that has not returned yet.
        var overrun: String?
        /// The run on the line now, so a deadline or a cancellation that comes late interrupts nothing else.
        var current: ObjectIdentifier?
        var users = 0
    }

    package let key: String
    private let executor: BlockingExecutor
    private let state = Mutex(State())
    private let slot: ConnectionSlot
    /// The read in progress on whichever connection the lane has, for a deadline to interrupt.
    private let inFlight = ModbusInFlightRead()

    init(key: String, executor: BlockingExecutor) {
        self.key = key
        self.executor = executor
        self.slot = ConnectionSlot(inFlight: inFlight)
    }

    /// An input reading through this lane says so, so the connection is closed when the last one stops.
    package func attach() {
        state.withLock { $0.users += 1 }
    }

    package func detach() {
        let last = state.withLock { state -> Bool in
            state.users -= 1
            return state.users == 0
        }
        guard last else { return }
        enqueue { [self] in
            if state.withLock({ $0.users == 0 }) { slot.close() }
        }
    }

    /// Runs `body` with the lane's connection to `endpoint`, alone on the line, and returns its result, or
    /// `.deadlinePassed` when `deadline` (counted from when the run starts on the line, not from when it queued
    /// behind the others) passes first. `label` names the run in `.busy` answers (`meter unit 3`).
    package func run<T: Sendable>(endpoint: ModbusEndpoint, label: String, deadline: Duration,
                                  _ body: @escaping @Sendable (ModbusConnection) -> T) async -> Outcome<T> {
        let once = ResumeOnce<Outcome<T>>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard once.install(continuation) else { return }
                if let holder = state.withLock({ $0.overrun }) {
                    once.resume(.busy(holder))
                    return
                }
                enqueue { [self] in
                    // Cancelled while it waited: the line is not touched for nothing.
                    guard !once.isResolved else { return }
                    let run = ObjectIdentifier(once)
                    state.withLock { $0.current = run }
                    inFlight.startRun()
                    let watchdog = Task { [self] in
                        guard (try? await Task.sleep(for: deadline)) != nil else { return }
                        guard once.resume(.deadlinePassed) else { return }
                        interrupt(run, marking: label)
                    }
                    let result = body(slot.connection(for: endpoint))
                    watchdog.cancel()
                    state.withLock { state in
                        state.current = nil
                        state.overrun = nil
                    }
                    once.resume(.done(result))
                }
            }
        } onCancel: {
            if once.resume(.cancelled) { interrupt(ObjectIdentifier(once), marking: nil) }
        }
    }

    /// Cuts the read of `run` short when it is still on the line, and marks the lane busy with it (a deadline) until
    /// it returns. Under the lane's lock, so a run that has just finished is never confused with the next one.
    private func interrupt(_ run: ObjectIdentifier, marking label: String?) {
        state.withLock { state in
            guard state.current == run else { return }
            if let label { state.overrun = label }
            inFlight.abandon()
        }
    }

    private func enqueue(_ job: @escaping Job) {
        let start = state.withLock { state -> Bool in
            state.pending.append(job)
            guard !state.running else { return false }
            state.running = true
            return true
        }
        guard start else { return }
        Task { [self] in await executor.run { self.drain() } }
    }

    /// Runs queued jobs one after the other until none is left; only one drain runs per lane at a time.
    private func drain() {
        while let job = state.withLock({ state -> Job? in
            guard !state.pending.isEmpty else {
                state.running = false
                return nil
            }
            return state.pending.removeFirst()
        }) {
            job()
        }
    }
}

/// The lanes of the process, one per serial device or TCP server, shared by every input that reads through one.
package enum ModbusLanes {
    private static let lanes = Mutex<[String: ModbusLane]>([:])

    /// The lane of `endpoint`. Lanes stay for the life of the process (a few per gateway); their connections close
    /// when the last input using them stops. A serial device is keyed by the file it resolves to, so `/dev/serial0`
    /// and `/dev/ttyS0` share one lane.
    package static func lane(for endpoint: ModbusEndpoint) -> ModbusLane {
        let key = endpoint.isSerial ? ModbusDevicePath.resolved(endpoint.laneKey) : endpoint.laneKey
        return lanes.withLock { lanes in
            if let lane = lanes[key] { return lane }
            let executor = endpoint.isSerial ? BlockingExecutor(label: "modbus.\(key)") : .pooled
            let lane = ModbusLane(key: key, executor: executor)
            lanes[key] = lane
            return lane
        }
    }
}

/// The lane's connection. `@unchecked Sendable` is safe because only the lane's jobs touch `connection`, and a
/// lane runs one job at a time (`ModbusLane.drain`), each finishing before the next starts.
private final class ConnectionSlot: @unchecked Sendable {
    private var connection: ModbusConnection?
    private let inFlight: ModbusInFlightRead

    init(inFlight: ModbusInFlightRead) {
        self.inFlight = inFlight
    }

    /// The open connection when it is to `endpoint`; else a new one (line settings changed by a restart).
    func connection(for endpoint: ModbusEndpoint) -> ModbusConnection {
        if let connection, connection.endpoint == endpoint { return connection }
        connection?.close()
        let made = ModbusConnection(endpoint: endpoint, inFlight: inFlight)
        connection = made
        return made
    }

    func close() {
        connection?.close()
        connection = nil
    }
}

/// A continuation resumed by whichever of several parties comes first (the work, its deadline, cancellation);
/// the others learn that they came too late.
private final class ResumeOnce<T: Sendable>: Sendable {
    private enum State {
        case waiting(CheckedContinuation<T, Never>?)
        /// Resolved before the continuation was installed (cancelled at once).
        case early(T)
        case resolved
    }

    private let state = Mutex(State.waiting(nil))

    /// Installs the continuation; false (after resuming it) when a result came first.
    func install(_ continuation: CheckedContinuation<T, Never>) -> Bool {
        let early = state.withLock { state -> T? in
            if case .early(let value) = state {
                state = .resolved
                return value
            }
            state = .waiting(continuation)
            return nil
        }
        guard let early else { return true }
        continuation.resume(returning: early)
        return false
    }

    var isResolved: Bool {
        state.withLock { if case .waiting = $0 { false } else { true } }
    }

    /// Resumes with `value` when nothing did before; true when this call did.
    @discardableResult
    func resume(_ value: T) -> Bool {
        let continuation = state.withLock { state -> CheckedContinuation<T, Never>?? in
            guard case .waiting(let continuation) = state else { return .none }
            state = continuation == nil ? .early(value) : .resolved
            return .some(continuation)
        }
        guard let waiting = continuation else { return false }
        waiting?.resume(returning: value)
        return true
    }
}
