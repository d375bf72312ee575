import OutpostCore

/// Why one Modbus read failed, sorted by what it says about the device: it answered and refused (an exception),
/// it did not answer, or what came back was not an answer.
package enum ModbusFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// An exception response (Modbus Application Protocol V1.1b3, §7): the device is there and refused the read.
    case exception(UInt8)
    /// Nothing came back within the timeout.
    case noAnswer(Duration)
    /// The line or the connection cannot be opened: refused, unreachable, no such serial device, no permission.
    case unreachable(String)
    /// Bytes came back that are not a valid answer: a bad CRC, a wrong length, another unit id or transaction.
    case malformed(String)
    /// The connection broke during the read: reset by the peer, the I/O error of an unplugged adapter.
    case broken(String)
    /// The whole poll of the device ran past its deadline and was abandoned.
    case deadline(Duration)
    /// The line is still held by an earlier read that ran past its deadline; this poll was not sent.
    case busy(String)

    /// Whether the device (or the gateway in front of it) answered at all. Exceptions 0x0A and 0x0B come from a
    /// gateway whose target is missing or silent (§7), so they count as the device not answering.
    package var deviceAnswered: Bool {
        if case .exception(let code) = self { return code != 0x0A && code != 0x0B }
        return false
    }

    /// The exception code, for events.
    package var exceptionCode: UInt8? {
        if case .exception(let code) = self { code } else { nil }
    }

    package var description: String {
        switch self {
        case .exception(let code):
            "exception 0x\(String(code, radix: 16, uppercase: true).leftPadded(to: 2)) "
                + (Self.exceptionNames[code] ?? "(not defined by the protocol)")
        case .noAnswer(let timeout): "no answer within \(ConfigQuantities.format(timeout))"
        case .unreachable(let reason): "cannot connect: \(reason)"
        case .malformed(let reason): "malformed answer: \(reason)"
        case .broken(let reason): "connection lost: \(reason)"
        case .deadline(let limit): "no complete answer within the poll's deadline of \(ConfigQuantities.format(limit))"
        case .busy(let holder): "the line is still busy with \(holder), which ran past its deadline"
        }
    }

    /// The exception codes of Modbus Application Protocol V1.1b3, §7, and 0x07 from earlier editions.
    static let exceptionNames: [UInt8: String] = [
        0x01: "illegal function", 0x02: "illegal data address", 0x03: "illegal data value",
        0x04: "server device failure", 0x05: "acknowledge", 0x06: "server device busy",
        0x07: "negative acknowledge", 0x08: "memory parity error", 0x0A: "gateway path unavailable",
        0x0B: "gateway target device failed to respond",
    ]
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
