import Foundation

/// A real MQTT 3.1.1-only broker (amqtt, from PyPI, in the test venv) on a free loopback port: it answers an MQTT 5
/// CONNECT with "unacceptable protocol version", as older brokers and some cloud endpoints do.
public final class AMQTTBroker: @unchecked Sendable {
    // `@unchecked Sendable`: immutable after init except the child process, which Foundation's `Process` guards.
    public let port: Int
    private let process = Process()

    public init(port: Int = freeLoopbackPort()) throws {
        self.port = port
        let executable = repositoryRoot.appendingPathComponent(".build/otlp-python/bin/amqtt").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw BrokerError(message: "\(executable) is missing: run Scripts/test (it installs amqtt)")
        }
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("amqtt-\(UUID().uuidString).yaml")
        try """
            listeners:
              default:
                type: tcp
                bind: 127.0.0.1:\(port)
            plugins:
              amqtt.plugins.authentication.AnonymousAuthPlugin:
                allow_anonymous: true
            """.write(to: config, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", config.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try waitUntilListening(port: port, isRunning: { process.isRunning }, name: "amqtt")
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
