import OutpostCore
@testable import OutpostInputs
import Testing
@testable import OutpostRuntime

@Suite("[[input.modbus]]: every map checked at `outpost check`, errors at file:line:column")
struct ModbusConfigTests {
    func parse(_ toml: String) throws -> OutpostConfiguration {
        try OutpostConfiguration.parse(toml, file: "outpost.toml", environment: [:])
    }

    func errors(_ toml: String) -> [ConfigError] {
        do {
            _ = try parse(toml)
            return []
        } catch let errors as ConfigErrors {
            return errors.errors
        } catch {
            Issue.record("unexpected \(error)")
            return []
        }
    }

    func modbus(_ configuration: OutpostConfiguration) throws -> ModbusInputConfiguration {
        try #require(configuration.inputs.first?.settings as? ModbusInputConfiguration)
    }

    @Test("a preset plus an address is a whole device: its registers, its name, unit 1, port 502")
    func preset() throws {
        let device = try modbus(try parse("""
            [[input.modbus]]
            preset = "sdm120"
            host = "192.168.1.50"
            """))
        #expect(device.name == "sdm120")
        #expect(device.endpoint == .tcp(host: "192.168.1.50", port: 502))
        #expect(device.unitID == 1)
        #expect(device.registers.count == 14)
        #expect(device.interval == .seconds(10) && device.timeout == .seconds(1))
    }

    @Test("an RTU preset takes the device's factory line settings; the file's keys win")
    func rtuPreset() throws {
        let device = try modbus(try parse("""
            [[input.modbus]]
            name = "meter"
            preset = "sdm120"
            device = "/dev/ttyUSB0"
            unit_id = 7
            baud = 9600
            """))
        #expect(device.endpoint == .rtu(ModbusSerialLine(device: "/dev/ttyUSB0", baud: 9600, parity: .none,
                                                          stopBits: 1)))
        #expect(device.unitID == 7)
    }

    @Test("without a preset the serial line defaults to the standard's 19200 8E1")
    func serialDefaults() throws {
        let device = try modbus(try parse("""
            [[input.modbus]]
            name = "plc"
            device = "/dev/ttyAMA0"
            [[input.modbus.registers]]
            name = "level"
            address = 3
            """))
        #expect(device.endpoint == .rtu(ModbusSerialLine(device: "/dev/ttyAMA0")))
        #expect(device.endpoint.description == "rtu /dev/ttyAMA0 19200 8E1")
        #expect(device.registers == [ModbusRegister(name: "level", address: 3)])
    }

    @Test("gateway.board names the RS-485 port: a device without `device` uses it")
    func boardSerialPort() throws {
        let device = try modbus(try parse("""
            [gateway]
            board = "raspberry-pi-4"
            [[input.modbus]]
            preset = "xy-md02"
            unit_id = 3
            """))
        #expect(device.endpoint == .rtu(ModbusSerialLine(device: "/dev/serial0", baud: 9600, parity: .none)))
        #expect(errors("""
            [gateway]
            board = "x86_64"
            [[input.modbus]]
            preset = "xy-md02"
            transport = "rtu"
            """).map(\.message) == [
            "required key `device` is missing; give the serial device, e.g. device = \"/dev/ttyUSB0\" "
                + "(gateway.board names one for boards with an RS-485 port)",
        ])
    }

    @Test("overlapping registers are an error at the later value's address, naming both")
    func overlap() throws {
        let found = errors("""
            [[input.modbus]]
            name = "plc"
            host = "10.0.0.5"
            [[input.modbus.registers]]
            name = "flow"
            address = 10
            type = "float32"
            [[input.modbus.registers]]
            name = "level"
              address = 11
            """)
        let error = try #require(found.first)
        #expect(found.count == 1)
        #expect(error.description == "outpost.toml:10:3: error[invalid-value]: input.modbus[#1].registers[#2].address: "
            + "holding register 11 of `level` overlap holding registers 10–11 of `flow` (line 4); each register "
            + "belongs to one value")
    }

    @Test("a register over the preset's is an overlap too; bools on different bits of one register are not")
    func overlapWithPresetAndBits() throws {
        let found = errors("""
            [[input.modbus]]
            preset = "sdm120"
            host = "10.0.0.5"
            [[input.modbus.registers]]
            name = "extra"
            table = "input"
            address = 7
            """)
        #expect(found.map(\.message) == ["input register 7 of `extra` overlap input registers 6–7 of `current` "
            + "(from the preset); each register belongs to one value"])
        #expect(found.first?.location?.line == 7)
        #expect(errors("""
            [[input.modbus]]
            name = "plc"
            host = "10.0.0.5"
            [[input.modbus.registers]]
            name = "running"
            address = 5
            type = "bool"
            bit = 0
            [[input.modbus.registers]]
            name = "alarm"
            address = 5
            type = "bool"
            bit = 7
            """).isEmpty)
    }

    @Test("a float32 of an odd length, a unit id out of 1–247, a float in a coil: errors at the key",
          arguments: [
              ("length = 3\ntype = \"float32\"", "length", "a float32 spans 2 registers, not 3; check the type "
                  + "against the device's register map"),
              ("length = 1\ntype = \"float32\"", "length", "a float32 spans 2 registers, not 1; check the type "
                  + "against the device's register map"),
              ("table = \"coil\"\ntype = \"float32\"", "type",
               "a coil holds one bit; its type is `bool`, not `float32`"),
              ("type = \"int16\"\nbit = 3", "bit", "`bit` picks one bit of a register for type = \"bool\"; this value is "
                  + "`int16`"),
              ("address = 65535\ntype = \"float64\"", "address", "a float64 at 65535 runs past address 65535"),
              ("type = \"float16\"", "type", "`float16` is not one of \"int16\", \"uint16\", \"int32\", \"uint32\", "
                  + "\"int64\", \"uint64\", \"float32\", \"float64\", \"bool\""),
              ("order = \"BACD\"", "order", "`BACD` is not one of \"ABCD\", \"CDAB\", \"BADC\", \"DCBA\""),
          ])
    func registerErrors(keys: String, key: String, message: String) throws {
        let found = errors("""
            [[input.modbus]]
            name = "plc"
            host = "10.0.0.5"
            [[input.modbus.registers]]
            name = "v"
            \(keys.contains("address") ? "" : "address = 0\n")\(keys)
            """)
        let error = try #require(found.first, "\(keys)")
        #expect(found.count == 1, "\(found)")
        #expect(error.message == message)
        #expect(error.path?.description == "input.modbus[#1].registers[#1].\(key)")
        #expect(error.location?.file == "outpost.toml" && (error.location?.line ?? 0) >= 6)
    }

    @Test("unit ids: 1–247 on a serial line; over TCP also 0 and 255", arguments: [
        ("device = \"/dev/ttyUSB0\"", 0, false), ("device = \"/dev/ttyUSB0\"", 248, false),
        ("device = \"/dev/ttyUSB0\"", 247, true), ("host = \"h\"", 0, true), ("host = \"h\"", 255, true),
        ("host = \"h\"", 250, false), ("host = \"h\"", 1, true),
    ])
    func unitIDs(transport: String, unit: Int, valid: Bool) throws {
        let found = errors("""
            [[input.modbus]]
            preset = "sdm120"
            \(transport)
            unit_id = \(unit)
            """)
        #expect(found.isEmpty == valid, "\(found)")
        if let error = found.first {
            #expect(error.location == ConfigLocation(file: "outpost.toml", line: 4, column: 1))
            #expect(error.message.hasPrefix("must be 1 to 247, got \(unit)"))
        }
    }

    @Test("two devices on one serial device must agree on its settings")
    func busConflict() throws {
        let found = errors("""
            [[input.modbus]]
            preset = "sdm120"
            device = "/dev/ttyUSB0"
            [[input.modbus]]
            preset = "xy-md02"
            device = "/dev/ttyUSB0"
            unit_id = 2
            """)
        #expect(found.map(\.description) == [
            "outpost.toml:6:1: error[invalid-value]: input.modbus[#2].device: /dev/ttyUSB0 is already used as "
                + "/dev/ttyUSB0 2400 8N1 (line 3); devices on one bus share one baud rate, parity, data bits and stop "
                + "bits",
        ])
        #expect(errors("""
            [[input.modbus]]
            preset = "sdm120"
            device = "/dev/ttyUSB0"
            [[input.modbus]]
            preset = "sdm120"
            device = "/dev/ttyUSB0"
            unit_id = 2
            """).isEmpty)
    }

    @Test("keys of the other transport, unknown presets, unknown keys and missing maps are errors")
    func otherErrors() throws {
        let found = errors("""
            [[input.modbus]]
            name = "a"
            host = "10.0.0.5"
            baud = 9600
            preset = "sdm999"
            [[input.modbus]]
            name = "b"
            host = "10.0.0.6"
            [[input.modbus]]
            name = "c"
            host = "10.0.0.7"
            preset = "sdm630"
            intervall = "5s"
            """)
        #expect(found.map { "\($0.location?.line ?? 0) \($0.message)" } == [
            "4 `baud` is a setting of transport = \"rtu\"; this device uses transport = \"tcp\"",
            "5 unknown preset `sdm999`; the presets are `sdm120` (Eastron SDM120-Modbus single-phase energy meter), "
                + "`sdm630` (Eastron SDM630-Modbus three-phase energy meter), `xy-md02` (XY-MD02 (SHT20) temperature "
                + "and humidity transmitter)",
            "6 required key `registers` is missing; give a preset (sdm120, sdm630, xy-md02) or the values to read as "
                + "[[input.modbus.registers]] tables",
            "13 unknown key `intervall`; did you mean `interval`?",
        ])
    }

    @Test("`outpost check` shows the device's interval and that silence is reported per device")
    func report() throws {
        let configuration = try parse("""
            [[input.modbus]]
            preset = "sdm630"
            host = "10.0.0.5"
            interval = "5s"
            stale_after = 4
            """)
        let report = ConfigurationReport.render(configuration)
        #expect(report.contains("[modbus] sdm630, every 5s (line 1)"))
        #expect(report.contains("stale after 4 polls without an answer, per device"))
        #expect(configuration.inputs.first?.source.interval == nil, "no per-series staleness for Modbus values")
    }
}
