import Foundation
import Synchronization

/// A real Modbus server (pymodbus, from the test venv) with the known register map of `modbus_server.py`, over TCP
/// on a free loopback port or RTU on one end of a serial pair. Stopped (SIGKILL) when released.
///
/// `@unchecked Sendable`: `process` is set once in `init`; the request lines are behind a mutex.
public final class ModbusTestServer: @unchecked Sendable {
    public struct Exception: Sendable {
        public let function: Int
        public let address: Int
        public let code: Int

        public init(function: Int, address: Int, code: Int) {
            self.function = function
            self.address = address
            self.code = code
        }
    }

    /// The TCP port (0 for rtu).
    public let port: Int
    private let process: Process
    private let lines = Lines()

    private final class Lines: Sendable {
        let lines = Mutex<[String]>([])
    }

    public static var python: String { repositoryRoot.appendingPathComponent(".build/otlp-python/bin/python").path }
    public static var script: String {
        repositoryRoot.appendingPathComponent("Tests/OutpostTestSupport/modbus_server.py").path
    }

    /// A TCP server on 127.0.0.1:`port` (0: a free one).
    public convenience init(tcp port: Int = 0, units: [Int] = [1], exceptions: [Exception] = [], delay: Double = 0,
                            countRequests: Bool = false, devices: Int = 0) throws {
        try self.init(["tcp", String(port)], units: units, exceptions: exceptions, delay: delay,
                      countRequests: countRequests, devices: devices)
        try waitUntilListening(port: self.port, isRunning: { process.isRunning }, name: "the Modbus test server")
    }

    /// An RTU server on the serial device `device` (one end of a `SerialPair`).
    public convenience init(rtu device: String, baud: Int = 19200, parity: String = "E", units: [Int] = [1],
                            exceptions: [Exception] = [], countRequests: Bool = false) throws {
        try self.init(["rtu", device, String(baud), parity], units: units, exceptions: exceptions, delay: 0,
                      countRequests: countRequests, devices: 0)
    }

    private init(_ arguments: [String], units: [Int], exceptions: [Exception], delay: Double, countRequests: Bool,
                 devices: Int) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            throw ServerError(message: "\(Self.python) is missing: run Scripts/test (it creates the test venv)")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        var options = ["--units", units.map(String.init).joined(separator: ",")]
        for exception in exceptions {
            options += ["--exception", "\(exception.function):\(exception.address):\(exception.code)"]
        }
        if delay > 0 { options += ["--delay", String(delay)] }
        if countRequests { options.append("--count-requests") }
        if devices > 0 { options += ["--devices", String(devices)] }
        process.arguments = [Self.script] + arguments + options
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = out.fileHandleForReading
        guard let first = Self.readLine(reader) else {
            process.terminate()
            throw ServerError(message: "the Modbus test server did not start")
        }
        port = Int(first) ?? 0
        Thread.detachNewThread { [lines] in
            while let line = Self.readLine(reader) { lines.lines.withLock { $0.append(line) } }
        }
    }

    deinit {
        stop()
    }

    /// SIGKILL, as a device losing power would.
    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// `request UNIT FUNCTION ADDRESS COUNT` lines, one per request served (with `countRequests`).
    public var requests: [String] { lines.lines.withLock { $0 } }

    private static func readLine(_ handle: FileHandle) -> String? {
        var bytes: [UInt8] = []
        while true {
            let chunk = handle.readData(ofLength: 1)
            guard let byte = chunk.first else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == 10 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
    }
}

/// Two pseudo-terminals joined by socat, like the two ends of an RS-485 bus: Outpost opens one, the server the other.
/// `unplug()` and `plugIn()` take the pair away and bring a new one back at the same paths, as a USB adapter that
/// is pulled out and plugged in again.
public final class SerialPair: Sendable {
    /// The ends, as stable paths in a temporary folder (links to `/dev/pts/N`).
    public let outpostEnd: String
    public let serverEnd: String
    private let folder: String
    private let process: Mutex<ChildProcess?>

    public init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-pty-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        outpostEnd = folder + "/outpost"
        serverEnd = folder + "/device"
        process = Mutex(nil)
        try plugIn()
    }

    deinit {
        unplug()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Starts socat and waits until both ends exist.
    public func plugIn() throws {
        let socat = try ChildProcess(executable: "/usr/bin/socat", arguments: [
            "pty,raw,echo=0,link=\(outpostEnd)", "pty,raw,echo=0,link=\(serverEnd)",
        ])
        process.withLock { $0 = socat }
        let deadline = Date().addingTimeInterval(20)
        let exists = { FileManager.default.fileExists(atPath: $0) }
        while !(exists(outpostEnd) && exists(serverEnd)) {
            guard Date() < deadline, socat.isRunning else {
                throw ServerError(message: "socat did not make the pseudo-terminal pair")
            }
            usleep(10_000)
        }
    }

    /// Ends socat: both pseudo-terminals close and their paths vanish.
    public func unplug() {
        process.withLock { $0?.kill(); $0 = nil }
        try? FileManager.default.removeItem(atPath: outpostEnd)
        try? FileManager.default.removeItem(atPath: serverEnd)
    }
}
