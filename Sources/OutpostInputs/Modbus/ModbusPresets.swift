import OutpostCore

/// A device whose register map is public, so `preset = "<name>"` plus its address is a working `[[input.modbus]]`.
///
/// Units are UCUM: `V.A` for volt-amperes, `V.A{reactive}` for reactive power (UCUM has no `var`), `kW.h` for
/// energy. Energy totals are counters (cumulative sums in OTLP; detection watches their rate, which is power).
package struct ModbusPreset: Sendable {
    package let name: String
    package let description: String
    /// Where the map comes from.
    package let source: String
    package let registers: [ModbusRegister]
    /// The device's factory serial settings, the defaults of `baud`, `parity` and `stop_bits` with this preset.
    package let baud: Int
    package let parity: ModbusSerialLine.Parity
    package let stopBits: Int

    package static let all: [ModbusPreset] = [sdm120, sdm630, xyMD02]

    package static func named(_ name: String) -> ModbusPreset? {
        all.first { $0.name == name }
    }

    /// Eastron SDM120-Modbus, single-phase energy meter: input registers (function 0x04), float32, ABCD. Factory
    /// settings 2400 baud, no parity, 1 stop bit, unit 1.
    static let sdm120 = ModbusPreset(
        name: "sdm120", description: "Eastron SDM120-Modbus single-phase energy meter",
        source: "Eastron SDM120-Modbus protocol, input registers 30001–30343",
        registers: [
            float("voltage", 0x0000, "V"), float("current", 0x0006, "A"), float("power.active", 0x000C, "W"),
            float("power.apparent", 0x0012, "V.A"), float("power.reactive", 0x0018, "V.A{reactive}"),
            float("power_factor", 0x001E, "1"), float("phase_angle", 0x0024, "deg"),
            float("frequency", 0x0046, "Hz"),
            energy("energy.active.import", 0x0048, "kW.h"), energy("energy.active.export", 0x004A, "kW.h"),
            energy("energy.reactive.import", 0x004C, "kV.A.h{reactive}"),
            energy("energy.reactive.export", 0x004E, "kV.A.h{reactive}"),
            energy("energy.active.total", 0x0156, "kW.h"),
            energy("energy.reactive.total", 0x0158, "kV.A.h{reactive}"),
        ],
        baud: 2400, parity: .none, stopBits: 1)

    /// Eastron SDM630-Modbus (V2), three-phase energy meter: input registers, float32, ABCD, per phase with a
    /// `phase` attribute (`L1`, `L2`, `L3`; line-to-line voltages `L1-L2`, ...). Factory settings 9600 baud, no
    /// parity, 1 stop bit, unit 1.
    static let sdm630 = ModbusPreset(
        name: "sdm630", description: "Eastron SDM630-Modbus three-phase energy meter",
        source: "Eastron SDM630-Modbus V2 protocol, input registers 30001–30343",
        registers: phases("voltage", 0x0000, "V") + phases("current", 0x0006, "A")
            + phases("power.active", 0x000C, "W") + phases("power.apparent", 0x0012, "V.A")
            + phases("power.reactive", 0x0018, "V.A{reactive}") + phases("power_factor", 0x001E, "1")
            + [
                float("voltage.average", 0x002A, "V"), float("current.average", 0x002E, "A"),
                float("current.sum", 0x0030, "A"), float("power.active.total", 0x0034, "W"),
                float("power.apparent.total", 0x0038, "V.A"), float("power.reactive.total", 0x003C, "V.A{reactive}"),
                float("power_factor.total", 0x003E, "1"), float("frequency", 0x0046, "Hz"),
                energy("energy.active.import", 0x0048, "kW.h"), energy("energy.active.export", 0x004A, "kW.h"),
                energy("energy.reactive.import", 0x004C, "kV.A.h{reactive}"),
                energy("energy.reactive.export", 0x004E, "kV.A.h{reactive}"),
                float("voltage.line", 0x00C8, "V", phase: "L1-L2"), float("voltage.line", 0x00CA, "V", phase: "L2-L3"),
                float("voltage.line", 0x00CC, "V", phase: "L3-L1"), float("current.neutral", 0x00E0, "A"),
                energy("energy.active.total", 0x0156, "kW.h"),
                energy("energy.reactive.total", 0x0158, "kV.A.h{reactive}"),
            ],
        baud: 9600, parity: .none, stopBits: 1)

    /// The SHT20 temperature and humidity transmitter sold as XY-MD02 (and its many clones): input registers 1
    /// (temperature, int16, 0.1 °C) and 2 (relative humidity, uint16, 0.1 %). Factory settings 9600 baud, no parity,
    /// 1 stop bit, unit 1.
    static let xyMD02 = ModbusPreset(
        name: "xy-md02", description: "XY-MD02 (SHT20) temperature and humidity transmitter",
        source: "XY-MD02 / SHT20 Modbus transmitter manual, input registers 0x0001–0x0002",
        registers: [
            ModbusRegister(name: "temperature", table: .input, address: 0x0001, type: .int16, scale: 0.1, unit: "Cel"),
            ModbusRegister(name: "humidity", table: .input, address: 0x0002, type: .uint16, scale: 0.1, unit: "%"),
        ],
        baud: 9600, parity: .none, stopBits: 1)

    private static func float(_ name: String, _ address: Int, _ unit: String, phase: String? = nil) -> ModbusRegister {
        var attributes = Attributes()
        attributes.set("phase", ifPresent: phase)
        return ModbusRegister(name: name, table: .input, address: address, type: .float32, unit: unit,
                              attributes: attributes)
    }

    private static func energy(_ name: String, _ address: Int, _ unit: String) -> ModbusRegister {
        ModbusRegister(name: name, table: .input, address: address, type: .float32, unit: unit, kind: .counter)
    }

    /// One value per phase at consecutive float32 addresses.
    private static func phases(_ name: String, _ address: Int, _ unit: String) -> [ModbusRegister] {
        ["L1", "L2", "L3"].enumerated().map { index, phase in float(name, address + 2 * index, unit, phase: phase) }
    }
}
