import Foundation
import Synchronization

/// A Modbus TCP peer that answers each request with whatever bytes the test hands it: malformed frames, wrong
/// transaction ids, truncated answers, silence, a closed connection. For the faults a well-behaved server (pymodbus)
/// never produces, and for fuzzing the response handling.
///
/// `@unchecked Sendable`: the listening socket is set once in `init`; `respond` is a `@Sendable` closure.
public final class RawModbusServer: @unchecked Sendable {
    public enum Reply: Sendable {
        case bytes([UInt8])
        /// Read the request and answer nothing.
        case silence
        /// Close the connection without answering.
        case close
        /// Write the bytes one at a time, `interval` seconds apart (a peer that keeps a byte timeout alive).
        case dribble([UInt8], interval: Double)
        /// Write the bytes and close: a short answer ends at once instead of at the timeout (for fuzzing).
        case bytesThenClose([UInt8])
    }

    /// A request as it arrived: the MBAP header (7 bytes) and the PDU.
    public struct Request: Sendable {
        public let bytes: [UInt8]
        public var transactionID: [UInt8] { Array(bytes[0..<2]) }
        public var unit: UInt8 { bytes[6] }
        public var function: UInt8 { bytes[7] }
        public var address: Int { Int(bytes[8]) << 8 | Int(bytes[9]) }
        public var count: Int { Int(bytes[10]) << 8 | Int(bytes[11]) }

        /// A well-formed answer to this read carrying `payload` after the byte count.
        public func answer(_ payload: [UInt8]) -> [UInt8] {
            let pdu = [function, UInt8(payload.count)] + payload
            let length = UInt16(pdu.count + 1)
            return transactionID + [0, 0, UInt8(length >> 8), UInt8(length & 0xFF), unit] + pdu
        }
    }

    /// Shared with the threads that accept and serve connections.
    private final class Counters: Sendable {
        let stopped = Mutex(false)
        let served = Mutex(0)
    }

    public let port: Int
    private let listener: Int32
    private let counters = Counters()

    public init(respond: @escaping @Sendable (Request) -> Reply) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 8) == 0 else { throw ServerError(message: "cannot listen on loopback") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let counters = self.counters
        Thread.detachNewThread {
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                if counters.stopped.withLock({ $0 }) {
                    close(connection)
                    return
                }
                Thread.detachNewThread {
                    Self.serve(connection, respond: respond, counters: counters)
                }
            }
        }
    }

    deinit {
        stop()
    }

    public func stop() {
        guard !counters.stopped.withLock({ state in defer { state = true }; return state }) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// Requests answered (or left unanswered) so far.
    public var requestCount: Int { counters.served.withLock { $0 } }

    private static func serve(_ connection: Int32, respond: @Sendable (Request) -> Reply, counters: Counters) {
        defer { close(connection) }
        while let header = readExactly(connection, 7) {
            let length = Int(header[4]) << 8 | Int(header[5])
            guard length >= 1, let pdu = readExactly(connection, length - 1) else { return }
            let request = Request(bytes: header + pdu)
            guard request.bytes.count >= 12 else { return }
            counters.served.withLock { $0 += 1 }
            switch respond(request) {
            case .bytes(let bytes):
                let written = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written < 0 { return }
            case .silence: continue
            case .close: return
            case .bytesThenClose(let bytes):
                _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                return
            case .dribble(let bytes, let interval):
                for byte in bytes {
                    Thread.sleep(forTimeInterval: interval)
                    guard [byte].withUnsafeBytes({ send(connection, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }) == 1
                    else { return }
                }
            }
        }
    }

    private static func readExactly(_ connection: Int32, _ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let read = bytes.withUnsafeMutableBytes { recv(connection, $0.baseAddress! + filled, count - filled, 0) }
            guard read > 0 else { return nil }
            filled += read
        }
        return bytes
    }
}
