import Foundation

/// The Python OTLP receiver, started by a test on a free loopback port and stopped when the test is done.
/// `@unchecked Sendable`: its state is immutable after `init` except the child process, which Foundation's `Process`
/// guards itself.
public final class OTLPServer: @unchecked Sendable {
    public let port: Int
    public let scheme: String
    private let process: Process

    public var endpoint: String { "\(scheme)://127.0.0.1:\(port)" }

    /// Starts the receiver (TLS when `certificate` and `key` are given) and waits until it listens.
    public init(port: Int = 0, certificate: String? = nil, key: String? = nil, clientCA: String? = nil) throws {
        let python = repositoryRoot.appendingPathComponent(".build/otlp-python/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ServerError(message: "\(python) is missing: run Scripts/install-deps (the README's test command does)")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [repositoryRoot.appendingPathComponent("Tests/OutpostUplinksTests/otlp_server.py").path,
                             String(port)] + [certificate, key, clientCA].compactMap { $0 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        try process.run()
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        guard let chosen = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw ServerError(message: "the OTLP test server did not start: `\(line)`")
        }
        self.port = chosen
        self.scheme = certificate == nil ? "http" : "https"
    }

    deinit {
        stop()
    }

    /// SIGKILL: a child started from a test process may inherit a signal mask that blocks SIGTERM.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Queues scripted responses: `{"status": 503, "headers": {"Retry-After": "2"}}`, `{"delay": 2}`, ...
    public func script(_ responses: [[String: Any]]) throws {
        _ = try call("POST", "/control", body: JSONSerialization.data(withJSONObject: ["responses": responses]))
    }

    /// From now on, answers 413 to every request body larger than `bytes` (a Collector's `max_request_body_size`).
    public func limitBody(to bytes: Int) throws {
        _ = try call("POST", "/control", body: JSONSerialization.data(withJSONObject: ["max_body": bytes]))
    }

    /// Every request the receiver decoded, oldest first.
    public func received() throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: call("GET", "/received", body: nil)) as? [[String: Any]] ?? []
    }

    /// Every HTTP byte of the OTLP exchanges so far, counted on the receiver's socket: in (requests), out
    /// (responses), and each exchange's total with its path, in order.
    public func wire() throws -> (in: Int, out: Int, exchanges: [(path: String, bytes: Int)]) {
        let object = try JSONSerialization.jsonObject(with: call("GET", "/wire", body: nil)) as? [String: Any] ?? [:]
        let exchanges = (object["exchanges"] as? [[String: Any]] ?? []).map {
            (path: $0["path"] as? String ?? "", bytes: $0["bytes"] as? Int ?? 0)
        }
        return (object["in"] as? Int ?? 0, object["out"] as? Int ?? 0, exchanges)
    }

    private func call(_ method: String, _ path: String, body: Data?) throws -> Data {
        // Plain HTTP control calls through curl, so the test needs no URLSession (and works for TLS with -k).
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        var arguments = ["-sk", "-X", method, "\(endpoint)\(path)"]
        if let body { arguments += ["--data-binary", String(decoding: body, as: UTF8.self)] }
        curl.arguments = arguments
        let out = Pipe()
        curl.standardOutput = out
        try curl.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        return data
    }
}

public struct ServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}
