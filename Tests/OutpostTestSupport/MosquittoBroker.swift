import Foundation

/// A real mosquitto broker on a free loopback port, started by a test and killed when the test is done.
public final class MosquittoBroker: @unchecked Sendable {
    // `@unchecked Sendable`: immutable after init except `process`, which only `restart` replaces; a test calls it
    // from its own task while nothing else uses the broker object.
    public let port: Int
    private var process: ChildProcess
    private let directory: String

    public init(port: Int = freeLoopbackPort(), extraConfig: String = "") throws {
        self.port = port
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mosquitto-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = "\(directory)/mosquitto.conf"
        try """
            user root
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence true
            persistence_location \(directory)/
            \(extraConfig)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        process = try Self.launch(config: config, port: port)
    }

    private static func launch(config: String, port: Int) throws -> ChildProcess {
        let process = try ChildProcess(executable: "/usr/sbin/mosquitto", arguments: ["-c", config])
        try waitUntilListening(port: port, isRunning: { process.isRunning }, name: "mosquitto")
        return process
    }

    /// The first half of a clean restart: SIGTERM (mosquitto saves its sessions and queued messages to its
    /// persistence file); the port refuses connections until `resume`.
    public func halt() {
        process.terminate()
    }

    /// The second half of a restart: a new broker on the saved sessions, on the same port.
    public func resume() throws {
        process = try Self.launch(config: "\(directory)/mosquitto.conf", port: port)
    }

    deinit {
        stop()
    }

    public func stop() {
        process.kill()
    }

    /// Reads up to `count` messages from `topic` with mosquitto_sub (retained ones included), waiting at most
    /// `timeout` seconds.
    public func receive(topic: String, count: Int = 1, timeout: Int = 10) throws -> [String] {
        let sub = Process()
        sub.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        sub.arguments = ["-h", "127.0.0.1", "-p", String(port), "-t", topic, "-C", String(count), "-W", String(timeout),
                         "-q", "1"]
        let out = Pipe()
        sub.standardOutput = out
        try sub.run()
        killAfter(sub, seconds: timeout)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        sub.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}

extension MosquittoBroker {
    /// The raw payload of the next message on `topic` (binary-safe), or empty after `timeout` seconds.
    public func receivePayload(topic: String, timeout: Int = 20) throws -> Data {
        let sub = Process()
        sub.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        sub.arguments = ["-h", "127.0.0.1", "-p", String(port), "-t", topic, "-C", "1", "-W", String(timeout),
                         "-q", "1", "-N", "-F", "%p"]
        let out = Pipe()
        sub.standardOutput = out
        try sub.run()
        killAfter(sub, seconds: timeout)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        sub.waitUntilExit()
        return data
    }
}

/// mosquitto_sub's own `-W` relies on SIGALRM, which a child of the test runner may have blocked: enforce it here.
func killAfter(_ process: Process, seconds: Int) {
    let pid = process.processIdentifier
    DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds + 1)) {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

public struct BrokerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}

/// A live `mosquitto_sub` whose lines the test reads as they come; ready once it has seen its own probe message,
/// so nothing published afterwards can be missed.
public final class MosquittoSubscription: @unchecked Sendable {
    // `@unchecked Sendable`: `lines` is guarded by `lock`; the process is only started and killed.
    private let process = Process()
    private let lock = NSLock()
    private var buffer = ""
    private var lines: [String] = []

    /// `session`: a persistent session under that client id, so messages published while a restarting broker had
    /// us disconnected are kept for us. `hex`: payloads as hex (binary-safe: gzip OTLP).
    public init(broker: MosquittoBroker, topic: String, session: String? = nil, hex: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        process.arguments = ["-h", "127.0.0.1", "-p", String(broker.port), "-t", topic, "-t", "probe/#", "-q", "1"]
            + (hex ? ["-F", "%t %x"] : ["-v"]) + (session.map { ["-c", "-i", $0] } ?? [])
        let out = Pipe()
        process.standardOutput = out
        out.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.buffer += String(decoding: data, as: UTF8.self)
            while let newline = self.buffer.firstIndex(of: "\n") {
                self.lines.append(String(self.buffer[..<newline]))
                self.buffer = String(self.buffer[self.buffer.index(after: newline)...])
            }
            self.lock.unlock()
        }
        try process.run()
        let probe = "probe/\(UUID().uuidString)"
        let deadline = Date().addingTimeInterval(20)
        while !received.contains(where: { $0.hasPrefix(probe) }) {
            guard Date() < deadline else { throw BrokerError(message: "mosquitto_sub did not start") }
            let publisher = Process()
            publisher.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
            publisher.arguments = ["-h", "127.0.0.1", "-p", String(broker.port), "-t", probe, "-m", "ready"]
            try publisher.run()
            publisher.waitUntilExit()
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Every `topic payload` line so far, probes left out.
    public var received: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

    public var messages: [(topic: String, payload: String)] {
        received.filter { !$0.hasPrefix("probe/") }.map { line in
            let space = line.firstIndex(of: " ") ?? line.endIndex
            return (String(line[..<space]), space < line.endIndex ? String(line[line.index(after: space)...]) : "")
        }
    }
}

/// Everything a pipe's writer has written so far (a child's standard error, say), read as it comes.
public final class PipeText: @unchecked Sendable {
    // `@unchecked Sendable`: `text` is only touched under `lock`; the handler is the only writer.
    public let pipe = Pipe()
    private let lock = NSLock()
    private var collected = ""

    public init() {
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.collected += String(decoding: data, as: UTF8.self)
            self.lock.unlock()
        }
    }

    public var text: String {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }
}
