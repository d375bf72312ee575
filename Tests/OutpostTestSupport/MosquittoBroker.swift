import Foundation

/// A real mosquitto broker on a free loopback port, started by a test and killed when the test is done.
public final class MosquittoBroker: @unchecked Sendable {
    // `@unchecked Sendable`: immutable after init except the child process, which Foundation's `Process` guards.
    public let port: Int
    private let process: Process
    private let directory: String

    public init(port: Int = freeLoopbackPort(), extraConfig: String = "") throws {
        self.port = port
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mosquitto-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = "\(directory)/mosquitto.conf"
        try """
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence true
            persistence_location \(directory)/
            \(extraConfig)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
        process.arguments = ["-c", config]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try waitUntilListening()
    }

    deinit {
        stop()
    }

    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    private func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(descriptor)
            if connected == 0 { return }
            guard process.isRunning else { throw BrokerError(message: "mosquitto exited at start") }
            usleep(20_000)
        }
        throw BrokerError(message: "mosquitto did not listen on \(port) within 20 s")
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
        let data = out.fileHandleForReading.readDataToEndOfFile()
        sub.waitUntilExit()
        return data
    }
}

public struct BrokerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
