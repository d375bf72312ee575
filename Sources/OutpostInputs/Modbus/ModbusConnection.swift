import CModbus
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What one read returned: 16-bit words (registers) or one byte per bit (coils, discrete inputs).
package enum ModbusPayload: Sendable, Equatable {
    case words([UInt16])
    case bits([UInt8])
}

/// One libmodbus context for one endpoint: the only place Outpost calls libmodbus.
///
/// Blocking and not thread-safe: a `ModbusLane` owns it and calls it from one job at a time, on a thread of the
/// blocking pool (TCP) or of the serial bus (RTU). Connects on first use and again after a failure: a TCP
/// connection is dropped after anything but an exception (a late answer must not be taken for the next one), and a
/// serial device that reports an I/O error (an unplugged USB adapter) is closed and opened again at the next read,
/// so a replugged adapter or a restarted server is picked up by itself.
package final class ModbusConnection {
    package let endpoint: ModbusEndpoint
    /// The socket of the read in progress, for the lane's deadline to interrupt.
    let inFlight: ModbusInFlightRead
    private var context: OpaquePointer?
    private var connected = false
    /// When the last frame on a serial line ended (monotonic nanoseconds), to keep t3.5 of silence before the next.
    private var lineQuietSince: Int64 = 0

    package init(endpoint: ModbusEndpoint, inFlight: ModbusInFlightRead = ModbusInFlightRead()) {
        self.endpoint = endpoint
        self.inFlight = inFlight
    }

    deinit {
        close()
    }

    /// Reads `request` from unit `unit`, waiting at most `timeout` for the answer. Blocking.
    package func read(_ request: ModbusRequest, unit: Int, timeout: Duration) -> Result<ModbusPayload, ModbusFailure> {
        if inFlight.isAbandoned { return .failure(Self.abandoned) }
        if let failure = connect(timeout: timeout) { return .failure(failure) }
        guard let context else { return .failure(.unreachable("no libmodbus context")) }
        modbus_set_slave(context, Int32(unit))
        setTimeouts(context, timeout: timeout)
        waitForLineSilence()
        defer { markLineQuiet() }
        guard inFlight.begin(socket: endpoint.isSerial ? nil : modbus_get_socket(context)) else {
            return .failure(Self.abandoned)
        }
        let (count, payload) = perform(request, on: context)
        let code = errno
        let abandoned = inFlight.end()
        if count == request.count { return .success(payload) }
        let failure = abandoned ? Self.abandoned
            : Self.classify(code: code, count: count, expected: request.count, timeout: timeout)
        recover(after: failure, on: context)
        return .failure(failure)
    }

    private static let abandoned = ModbusFailure.broken("abandoned at the poll's deadline")

    /// Closes the line or connection; the next read opens it again.
    package func close() {
        guard let context else { return }
        if connected { modbus_close(context) }
        modbus_free(context)
        self.context = nil
        connected = false
    }

    private func perform(_ request: ModbusRequest, on context: OpaquePointer) -> (Int, ModbusPayload) {
        let start = Int32(request.start), count = Int32(request.count)
        switch request.table {
        case .holding, .input:
            var words = [UInt16](repeating: 0, count: request.count)
            let read = request.table == .holding
                ? modbus_read_registers(context, start, count, &words)
                : modbus_read_input_registers(context, start, count, &words)
            return (Int(read), .words(words))
        case .coil, .discrete:
            var bits = [UInt8](repeating: 0, count: request.count)
            let read = request.table == .coil
                ? modbus_read_bits(context, start, count, &bits)
                : modbus_read_input_bits(context, start, count, &bits)
            return (Int(read), .bits(bits))
        }
    }

    /// Opens the context and connects when needed; nil when connected.
    private func connect(timeout: Duration) -> ModbusFailure? {
        if connected { return nil }
        if context == nil { context = Self.makeContext(endpoint) }
        guard let context else {
            return .unreachable("libmodbus refused the settings of \(endpoint) (\(Self.errorText(errno)))")
        }
        setTimeouts(context, timeout: timeout)
        guard modbus_connect(context) == 0 else {
            let code = errno
            return .unreachable(Self.connectFailure(code, endpoint: endpoint))
        }
        connected = true
        // A serial line may hold the tail of an answer from before (a device restarted mid-frame).
        if endpoint.isSerial { modbus_flush(context) }
        return nil
    }

    private static func makeContext(_ endpoint: ModbusEndpoint) -> OpaquePointer? {
        switch endpoint {
        case .tcp(let host, let port):
            // The `_pi` variant resolves host names (getaddrinfo) and IPv6; `modbus_new_tcp` takes IPv4 literals only.
            return modbus_new_tcp_pi(host, String(port))
        case .rtu(let line):
            return modbus_new_rtu(line.device, Int32(line.baud), CChar(line.parity.letter.asciiValue ?? 78),
                                  Int32(line.dataBits), Int32(line.stopBits))
        }
    }

    /// The response timeout is the operator's `timeout`. Between two bytes of one answer a serial line allows
    /// 1.5 character times (§2.5.1.1); USB adapters deliver in chunks every few milliseconds, so the byte timeout is
    /// 100 ms there (at most `timeout`), which also bounds how long a device dribbling bytes can hold the bus. TCP
    /// segments may be split anywhere, so there it is the whole timeout.
    private func setTimeouts(_ context: OpaquePointer, timeout: Duration) {
        let (seconds, micros) = Self.secondsAndMicros(timeout)
        modbus_set_response_timeout(context, seconds, micros)
        let byteTimeout = endpoint.isSerial ? min(timeout, .milliseconds(100)) : timeout
        let (byteSeconds, byteMicros) = Self.secondsAndMicros(byteTimeout)
        modbus_set_byte_timeout(context, byteSeconds, byteMicros)
    }

    /// After a failure: a TCP connection that did not fail with an exception is closed (a late answer would be taken
    /// for the next request's); a serial line is flushed, and closed when the device itself reported an error.
    private func recover(after failure: ModbusFailure, on context: OpaquePointer) {
        switch (failure, endpoint.isSerial) {
        case (.exception, _): return
        case (.broken, true): close()
        case (_, true): modbus_flush(context)
        case (_, false): close()
        }
    }

    static func classify(code: Int32, count: Int, expected: Int, timeout: Duration) -> ModbusFailure {
        let base = Int32(MODBUS_ENOBASE)
        switch code {
        case base + 1...base + 11: return .exception(UInt8(code - base))
        case base + 12...base + 17: return .malformed(malformedText(code - base - 11))
        case ETIMEDOUT: return .noAnswer(timeout)
        case 0 where count >= 0: return .malformed("\(count) values instead of \(expected)")
        default: return .broken(errorText(code))
        }
    }

    /// libmodbus's own codes after the exceptions (EMBBADCRC ... EMBBADSLAVE), said so an operator knows where to
    /// look. A TCP answer must repeat the request's transaction id and unit (Modbus Messaging on TCP/IP
    /// Implementation Guide V1.0b, §3.1.3); a serial one must pass its CRC (Modbus over Serial Line V1.02, §2.5.1.2).
    private static func malformedText(_ offset: Int32) -> String {
        switch offset {
        case 1: "bad CRC (noise on the line, or a wrong baud rate or parity)"
        case 2: "it does not fit the request (another transaction id, function or byte count)"
        case 3: "an exception code the protocol does not define"
        case 4: "an unknown exception"
        case 5: "more data than the protocol allows"
        case 6: "it came from another unit id"
        default: "error \(offset)"
        }
    }

    private static func connectFailure(_ code: Int32, endpoint: ModbusEndpoint) -> String {
        let text = errorText(code)
        guard case .rtu(let line) = endpoint else { return text }
        switch code {
        case EACCES, EPERM:
            return "\(line.device): \(text); the user running Outpost needs the `dialout` group (the package's "
                + "systemd unit has it)"
        case ENOENT, ENODEV, ENXIO: return "\(line.device): \(text); is the adapter plugged in?"
        default: return "\(line.device): \(text)"
        }
    }

    static func errorText(_ code: Int32) -> String {
        modbus_strerror(code).map { String(cString: $0) } ?? "error \(code)"
    }

    private static func secondsAndMicros(_ duration: Duration) -> (UInt32, UInt32) {
        let (seconds, attoseconds) = duration.components
        return (UInt32(clamping: max(0, seconds)), UInt32(clamping: max(0, attoseconds / 1_000_000_000_000)))
    }

    /// Modbus over Serial Line V1.02, §2.5.1.1: frames are separated by at least 3.5 character times of silence,
    /// whichever device sent the last one. libmodbus does not wait between requests, so the lane does.
    private func waitForLineSilence() {
        guard case .rtu(let line) = endpoint else { return }
        let gap = Int64(line.frameGap.components.attoseconds / 1_000_000_000)
            + line.frameGap.components.seconds * 1_000_000_000
        let wait = lineQuietSince + gap - ModbusMonotonic.nanos()
        guard wait > 0 else { return }
        var request = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    private func markLineQuiet() {
        if endpoint.isSerial { lineQuietSince = ModbusMonotonic.nanos() }
    }
}

/// The read in progress on a lane, shared between the lane's thread (which reads) and the deadline's task (which
/// may abandon the run). Abandoning shuts the socket of the read in progress down, which wakes libmodbus's `select`
/// at once, and stops the run before its next read. Serial lines cannot be woken this way; their reads end within
/// the response timeout plus the byte timeout per byte of the longest answer (256 bytes).
package final class ModbusInFlightRead: Sendable {
    private struct State {
        var socket: Int32?
        var abandoned = false
    }

    private let state = Mutex(State())

    package init() {}

    /// A new run starts on the lane.
    func startRun() {
        state.withLock { $0 = State() }
    }

    var isAbandoned: Bool { state.withLock { $0.abandoned } }

    /// A read starts on `socket` (nil on a serial line); false when the run was abandoned and must not send it.
    func begin(socket: Int32?) -> Bool {
        state.withLock { state in
            guard !state.abandoned else { return false }
            state.socket = socket.flatMap { $0 >= 0 ? $0 : nil }
            return true
        }
    }

    /// The read ended; true when the run was abandoned meanwhile. After this the socket is the connection's again
    /// (it may close it), so `abandon` no longer touches it.
    func end() -> Bool {
        state.withLock { state in
            state.socket = nil
            return state.abandoned
        }
    }

    /// Under the lock, so the descriptor cannot have been closed (and its number reused by another file) meanwhile.
    func abandon() {
        state.withLock { state in
            state.abandoned = true
            if let socket = state.socket { shutdown(socket, Int32(SHUT_RDWR)) }
        }
    }
}

/// A serial device's path with its links resolved (`/dev/serial0` → `/dev/ttyS0`), or as written while it does not
/// exist (an adapter not plugged in yet).
enum ModbusDevicePath {
    static func resolved(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// The monotonic clock in nanoseconds, for the serial line's frame gap and for response times.
enum ModbusMonotonic {
    static func nanos() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
