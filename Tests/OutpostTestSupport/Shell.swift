import Foundation

/// Runs `command` with /bin/sh; returns its exit status and its output, standard error included.
@discardableResult
public func shell(_ command: String) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command + " 2>&1"]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// `shell`, waited for on a thread of its own: a test awaiting a long command (a package build, a cross link, a run
/// under qemu) must not hold one of the few threads of Swift's cooperative pool, which every other test of the
/// process shares (two on a 2-core machine: two such waits stall every other test of the run).
@discardableResult
public func shell(_ command: String) async throws -> (Int32, String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try shell(command) as (Int32, String) }) }.start()
    }
}

/// Certificates made with openssl for one test, in a temporary folder: a CA, a server certificate for 127.0.0.1
/// and a client certificate signed by it, and an unrelated CA (`other`) to be refused with.
public struct TestCertificates: Sendable {
    public let directory: String
    public var ca: String { directory + "/ca.pem" }
    public var serverCertificate: String { directory + "/server.pem" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCertificate: String { directory + "/client.pem" }
    public var clientKey: String { directory + "/client.key" }
    public var otherCA: String { directory + "/other.pem" }

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)").path
        let (status, output) = try shell("""
            set -e
            mkdir -p "\(directory)" && cd "\(directory)"
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=outpost test CA"
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
            printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext.cnf
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \\
                -extfile ext.cnf
            openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=gateway-7"
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2
            openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj "/CN=other"
            """)
        guard status == 0 else { throw BrokerError(message: "openssl failed: \(output)") }
    }
}
