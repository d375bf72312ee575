import Foundation

/// A TCP port on 127.0.0.1 that nothing listens on right now.
///
/// Chosen at random below the kernel's ephemeral range (which hands recently freed ports out again in sequence), so
/// two tests running in parallel, one of which keeps a port free on purpose (a broker that is down), do not meet.
public func freeLoopbackPort() -> Int {
    while true {
        let port = Int.random(in: 20_000..<32_000)
        if withLoopbackSocket(port: port, bind) == 0 { return port }
    }
}

/// Waits (at most 20 s) until `process` accepts TCP connections on 127.0.0.1:`port`.
func waitUntilListening(port: Int, isRunning: () -> Bool, name: String) throws {
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
        if withLoopbackSocket(port: port, connect) == 0 { return }
        guard isRunning() else { throw BrokerError(message: "\(name) exited at start") }
        usleep(20_000)
    }
    throw BrokerError(message: "\(name) did not listen on \(port) within 20 s")
}

/// Calls `operation` (bind or connect) with a fresh TCP socket and 127.0.0.1:`port`, closes the socket, and returns
/// what the call returned.
private func withLoopbackSocket(port: Int,
                                _ operation: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            operation(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
}
