/// Where a Modbus device is reached: a TCP server, or a serial line shared by the devices wired to it.
package enum ModbusEndpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case rtu(ModbusSerialLine)

    /// Requests on one lane never overlap: one serial device (an RS-485 bus) or one TCP server, whatever unit ids
    /// are behind it (a TCP-to-RTU gateway forwards to one bus, and many answer one request at a time).
    package var laneKey: String {
        switch self {
        case .tcp(let host, let port): "tcp://\(host):\(port)"
        case .rtu(let line): line.device
        }
    }

    package var isSerial: Bool {
        if case .rtu = self { true } else { false }
    }

    /// `tcp 10.0.0.5:502` or `rtu /dev/ttyUSB0 9600 8N1`, for messages and attributes.
    package var description: String {
        switch self {
        case .tcp(let host, let port): "tcp \(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .rtu(let line): "rtu \(line)"
        }
    }
}

/// The settings of one serial line. Every device on a bus shares them, so `outpost check` refuses two devices that
/// name one serial device with different settings.
package struct ModbusSerialLine: Sendable, Hashable, CustomStringConvertible {
    package enum Parity: String, Sendable, CaseIterable {
        case none, even, odd

        /// What libmodbus takes: `N`, `E` or `O`.
        var letter: Character {
            switch self {
            case .none: "N"
            case .even: "E"
            case .odd: "O"
            }
        }
    }

    /// `device` (required for rtu unless `gateway.board` names an RS-485 port): `/dev/ttyUSB0`, `/dev/ttyAMA0`.
    package var device: String
    /// `baud`, default 19200 (Modbus over Serial Line V1.02, §2.5.1: 19200 must be supported and is the default).
    package var baud = 19200
    /// `parity`, default `"even"` (§2.5.1: even parity is the default), `"odd"` or `"none"`.
    package var parity = Parity.even
    /// `data_bits`, default 8 (RTU mode sends 8; 7 only exists for ASCII-era devices).
    package var dataBits = 8
    /// `stop_bits`, default 1 (§2.5.1: 2 stop bits when there is no parity; many devices use 1 anyway).
    package var stopBits = 1

    package init(device: String, baud: Int = 19200, parity: Parity = .even, dataBits: Int = 8, stopBits: Int = 1) {
        self.device = device
        self.baud = baud
        self.parity = parity
        self.dataBits = dataBits
        self.stopBits = stopBits
    }

    /// The silence that must separate two frames, t3.5 (§2.5.1.1): 3.5 character times, where a character is
    /// a start bit, the data bits, the parity bit and the stop bits; fixed at 1.750 ms above 19200 baud.
    package var frameGap: Duration {
        guard baud > 0, baud <= 19200 else { return .microseconds(1750) }
        let bits = 1 + dataBits + (parity == .none ? 0 : 1) + stopBits
        return .nanoseconds(Int64((3.5 * Double(bits) / Double(baud) * 1e9).rounded(.up)))
    }

    /// `/dev/ttyUSB0 9600 8N1`.
    package var description: String {
        "\(device) \(baud) \(dataBits)\(parity.letter)\(stopBits)"
    }
}
