import OutpostCore

/// The four primary tables of the Modbus data model (Modbus Application Protocol V1.1b3, §4.3), and the read
/// function each is read with (§6.1–6.4).
package enum ModbusTable: String, Sendable, CaseIterable, Comparable {
    case coil
    case discrete
    case holding
    case input

    /// Bit tables hold one bit per address; register tables one 16-bit word.
    package var holdsBits: Bool { self == .coil || self == .discrete }

    /// Read Coils 0x01, Read Discrete Inputs 0x02, Read Holding Registers 0x03, Read Input Registers 0x04.
    package var functionCode: UInt8 {
        switch self {
        case .coil: 0x01
        case .discrete: 0x02
        case .holding: 0x03
        case .input: 0x04
        }
    }

    /// The most one read may ask for: 2000 bits (§6.1, §6.2) or 125 registers (§6.3, §6.4).
    package var maximumPerRequest: Int { holdsBits ? 2000 : 125 }

    /// As operators read it in a device manual: "holding register", "coil".
    package var label: String {
        switch self {
        case .coil: "coil"
        case .discrete: "discrete input"
        case .holding: "holding register"
        case .input: "input register"
        }
    }

    package static func < (lhs: ModbusTable, rhs: ModbusTable) -> Bool {
        lhs.functionCode < rhs.functionCode
    }
}

/// How a value is stored in its registers. Modbus sends each register big-endian (§4.2); how a device lays a value
/// wider than one register over several is its own choice, hence `ModbusOrder`.
package enum ModbusValueType: String, Sendable, CaseIterable {
    case int16, uint16, int32, uint32, int64, uint64, float32, float64, bool

    /// Registers the value spans (a `bool` is one bit of a bit table, or one register).
    package var registerCount: Int {
        switch self {
        case .int16, .uint16, .bool: 1
        case .int32, .uint32, .float32: 2
        case .int64, .uint64, .float64: 4
        }
    }
}

/// The byte and word order of a value spread over registers, named by where the bytes of the big-endian value
/// `A B C D` arrive: `ABCD` as the protocol sends a single register (most significant register first), `CDAB` with
/// the registers swapped (least significant register first, common in PLCs), `BADC` with the bytes of each register
/// swapped, `DCBA` fully little-endian. For 64-bit values the same two swaps apply to all four registers.
package enum ModbusOrder: String, Sendable, CaseIterable {
    case abcd = "ABCD"
    case cdab = "CDAB"
    case badc = "BADC"
    case dcba = "DCBA"

    var swapsWords: Bool { self == .cdab || self == .dcba }
    var swapsBytes: Bool { self == .badc || self == .dcba }
}

/// One value of a device's register map: where it is, how it is stored, and the series it becomes.
package struct ModbusRegister: Sendable, Equatable {
    /// `name` (required): appended to the input's name (`meter` + `voltage` → `meter.voltage`).
    package var name: String
    /// `table`, default `"holding"`: `holding`, `input`, `coil` or `discrete`.
    package var table: ModbusTable = .holding
    /// `address` (required): the protocol address, 0 to 65535, as sent on the wire (a manual's "40001" is
    /// holding register address 0).
    package var address: Int
    /// `type`, default `"uint16"` for registers and `"bool"` for coils and discrete inputs.
    package var type: ModbusValueType = .uint16
    /// `order`, default `"ABCD"`: `ABCD`, `CDAB`, `BADC` or `DCBA`.
    package var order: ModbusOrder = .abcd
    /// `bit`, default none: for a `bool` in a register, the bit (0 = least significant, to 15) it reads.
    package var bit: Int?
    /// `scale`, default 1, and `offset`, default 0: the sample is `raw × scale + offset`.
    package var scale = 1.0
    package var offset = 0.0
    /// `unit`, default `""`: UCUM (`V`, `A`, `W`, `kW.h`, `Cel`, `%`, `Hz`).
    package var unit = ""
    /// `kind`, default `"gauge"`: `counter` for a total that only grows (an energy register).
    package var kind = SeriesKind.gauge
    /// `attributes`, default none: added to the input's own.
    package var attributes = Attributes()

    package init(name: String, table: ModbusTable = .holding, address: Int, type: ModbusValueType? = nil,
                 order: ModbusOrder = .abcd, scale: Double = 1, offset: Double = 0, unit: String = "",
                 kind: SeriesKind = .gauge, bit: Int? = nil, attributes: Attributes = Attributes()) {
        self.name = name
        self.table = table
        self.address = address
        self.type = type ?? (table.holdsBits ? .bool : .uint16)
        self.order = order
        self.scale = scale
        self.offset = offset
        self.unit = unit
        self.kind = kind
        self.bit = bit
        self.attributes = attributes
    }

    /// Addresses the value occupies in its table: one per bit, or one per register.
    package var span: Int { table.holdsBits ? 1 : type.registerCount }
    /// The last address it occupies.
    package var lastAddress: Int { address + span - 1 }

    /// `holding register 100` or `input registers 0–1`, as an operator finds it in the device's manual.
    package var place: String {
        span == 1 ? "\(table.label) \(address)" : "\(table.label)s \(address)–\(lastAddress)"
    }

    package static func == (lhs: ModbusRegister, rhs: ModbusRegister) -> Bool {
        lhs.name == rhs.name && lhs.table == rhs.table && lhs.address == rhs.address && lhs.type == rhs.type
            && lhs.order == rhs.order && lhs.bit == rhs.bit && lhs.scale == rhs.scale && lhs.offset == rhs.offset
            && lhs.unit == rhs.unit && lhs.kind == rhs.kind && lhs.attributes == rhs.attributes
    }
}

/// Turns the words or bits a read returned into the numbers the registers hold. Pure, so it is tested (and fuzzed)
/// with any words at all.
package enum ModbusDecoder {
    /// The raw value of `register` from `words` (exactly `register.type.registerCount` of them, in wire order),
    /// before scale and offset. Integers wider than 2^53 lose their lowest digits, as every OTLP double does.
    package static func raw(_ register: ModbusRegister, words: ArraySlice<UInt16>) -> Double {
        let bytes = orderedBytes(Array(words), order: register.order)
        switch register.type {
        case .bool:
            let word = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
            return register.bit.map { Double((word >> UInt16($0)) & 1) } ?? (word == 0 ? 0 : 1)
        case .uint16: return Double(UInt16(mostSignificantFirst: bytes))
        case .int16: return Double(Int16(bitPattern: UInt16(mostSignificantFirst: bytes)))
        case .uint32: return Double(UInt32(mostSignificantFirst: bytes))
        case .int32: return Double(Int32(bitPattern: UInt32(mostSignificantFirst: bytes)))
        case .uint64: return Double(UInt64(mostSignificantFirst: bytes))
        case .int64: return Double(Int64(bitPattern: UInt64(mostSignificantFirst: bytes)))
        case .float32: return decimal(Float(bitPattern: UInt32(mostSignificantFirst: bytes)))
        case .float64: return Double(bitPattern: UInt64(mostSignificantFirst: bytes))
        }
    }

    /// A float32 as the shortest decimal that reads back as the same float32: the 230.1 a meter means, not the
    /// 230.10000610351562 its bits hold exactly, so values and alerts read as the device's display does.
    static func decimal(_ value: Float) -> Double {
        guard value.isFinite else { return Double(value) }
        return Double(value.description) ?? Double(value)
    }

    /// The sample value: `raw × scale + offset`.
    package static func value(_ register: ModbusRegister, words: ArraySlice<UInt16>) -> Double {
        raw(register, words: words) * register.scale + register.offset
    }

    /// A bit from a bit table, scaled like any value (so `scale = -1, offset = 1` inverts a normally-closed contact).
    package static func value(_ register: ModbusRegister, bit: UInt8) -> Double {
        (bit == 0 ? 0 : 1) * register.scale + register.offset
    }

    /// The value's bytes most significant first, undoing the device's word and byte order.
    static func orderedBytes(_ words: [UInt16], order: ModbusOrder) -> [UInt8] {
        let registers = order.swapsWords ? words.reversed() : words
        return registers.flatMap { word -> [UInt8] in
            let high = UInt8(word >> 8), low = UInt8(word & 0xFF)
            return order.swapsBytes ? [low, high] : [high, low]
        }
    }
}

extension FixedWidthInteger {
    /// The integer whose big-endian bytes are `bytes` (exactly `bitWidth / 8` of them).
    fileprivate init(mostSignificantFirst bytes: [UInt8]) {
        self = bytes.prefix(Self.bitWidth / 8).reduce(0) { $0 << 8 | Self(truncatingIfNeeded: $1) }
    }
}
