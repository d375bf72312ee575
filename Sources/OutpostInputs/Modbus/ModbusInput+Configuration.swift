import OutpostCore

/// `[[input.modbus]]`: one Modbus device, over TCP or on a serial (RS-485) line, and the values of its register map.
///
/// Several devices on one RS-485 bus are several tables naming the same `device`; they share the line (one request
/// at a time) and must agree on its settings.
package struct ModbusInputConfiguration: Sendable {
    /// `name` (required unless `preset` gives it: the preset's name): the device's name, and the prefix of its series
    /// (`pumphouse.meter` → `pumphouse.meter.voltage`).
    package var name: String
    /// `transport`, default `"tcp"` when `host` is given, `"rtu"` when `device` is (or when `gateway.board` names an
    /// RS-485 port): `host`, `port` (default 502, the registered Modbus port), or `device`, `baud`, `parity`,
    /// `data_bits`, `stop_bits` (see `ModbusSerialLine`).
    package var endpoint: ModbusEndpoint
    /// `unit_id`, default 1 (the preset's otherwise): 1 to 247 (Modbus over Serial Line V1.02, §2.2); over TCP
    /// also 0 and 255, which devices reached directly take (Modbus Messaging on TCP/IP Implementation Guide V1.0b,
    /// §4.4.2).
    package var unitID = 1
    /// `timeout`, default `"1s"` (at most `"1m"`): how long one request may wait for its answer. A poll's deadline
    /// is this once per request, plus once for connecting; a device that misses it costs that, not the bus.
    package var timeout: Duration = .seconds(1)
    /// `interval`, default `"10s"`: how often the device is read.
    package var interval: Duration = .seconds(10)
    /// `max_gap`, default 10 (0 to 124): unused registers between two values that one request reads along rather
    /// than sending two.
    package var maxGap = ModbusRequestPlanner.defaultMaxGap
    /// `max_registers`, default 125 (the protocol's limit, §6.3): the most registers one request asks for, for
    /// devices with a smaller buffer.
    package var maxRegisters = 125
    /// `stale_after`, default 3 (0 never, up to 1000): polls in a row without any answer before
    /// `outpost.device.stale`. Modbus devices report silence per device, so their values are not also watched one
    /// by one by `[detect] stale_after`.
    package var staleAfter = 3
    /// `preset`, default none: `sdm120`, `sdm630` or `xy-md02` (see `ModbusPreset`); its registers come first,
    /// `registers` add to them.
    package var preset: String?
    /// `location` and `attributes`: added to every series of the device.
    package var attributes = Attributes()
    /// `[[input.modbus.registers]]`: the values to read (see `ModbusRegister`).
    package var registers: [ModbusRegister]

    package init(name: String, endpoint: ModbusEndpoint, registers: [ModbusRegister]) {
        self.name = name
        self.endpoint = endpoint
        self.registers = registers
    }

    static func read(_ reader: ConfigReader, context: InputContext) -> ModbusInputConfiguration? {
        let presetName = reader.string("preset")
        let preset = presetName.flatMap { name -> ModbusPreset? in
            if let preset = ModbusPreset.named(name) { return preset }
            reader.invalid("preset", "unknown preset `\(name)`; the presets are "
                + ModbusPreset.all.map { "`\($0.name)` (\($0.description))" }.joined(separator: ", "))
            return nil
        }
        let name = readName(reader, preset: presetName)
        let endpoint = readEndpoint(reader, preset: preset, context: context)
        var configuration = ModbusInputConfiguration(name: name ?? "", endpoint: endpoint ?? .tcp(host: "", port: 502),
                                                     registers: preset?.registers ?? [])
        configuration.preset = preset?.name
        configuration.unitID = readUnitID(reader, serial: endpoint?.isSerial ?? false)
        configuration.timeout = reader.positiveDuration("timeout", default: configuration.timeout)
        if configuration.timeout > .seconds(60) {
            reader.invalid("timeout", "must be at most 1m, got \(ConfigQuantities.format(configuration.timeout))")
        }
        configuration.interval = reader.positiveDuration("interval", default: configuration.interval)
        configuration.maxGap = reader.int("max_gap", in: 0...124, default: configuration.maxGap)
        configuration.maxRegisters = reader.int("max_registers", in: 1...125, default: configuration.maxRegisters)
        configuration.staleAfter = reader.int("stale_after", in: 0...1000, default: configuration.staleAfter)
        configuration.attributes.set("location", ifPresent: reader.string("location"))
        for (key, value) in reader.stringMap("attributes") { configuration.attributes[key] = .string(value) }
        let tables = reader.tables("registers")
        let own = tables.compactMap { table in ModbusRegisterReader.read(table).map { (register: $0, reader: table) } }
        configuration.registers += own.map(\.register)
        ModbusMapCheck.check(preset: preset?.registers ?? [], own: own, maxRegisters: configuration.maxRegisters,
                             reader: reader)
        if configuration.registers.isEmpty, presetName == nil, tables.isEmpty {
            reader.missing("registers", "give a preset (\(ModbusPreset.all.map(\.name).joined(separator: ", "))) or "
                + "the values to read as [[input.modbus.registers]] tables")
        }
        reader.finish()
        guard let name, let endpoint, !configuration.registers.isEmpty, own.count == tables.count else { return nil }
        configuration.name = name
        configuration.endpoint = endpoint
        return configuration
    }

    private static func readName(_ reader: ConfigReader, preset: String?) -> String? {
        let name = preset.map { reader.string("name", default: $0) }
            ?? reader.requiredString("name", hint: "name the device, e.g. name = \"pumphouse.meter\"")
        guard let name else { return nil }
        guard !name.isEmpty, SensorIdentity.isValidName(name) else {
            reader.invalid("name", "`\(name)` is not a valid series name; use letters, digits, `_`, `-` and `.`")
            return nil
        }
        return name
    }

    /// Unit ids 1–247 address devices on a serial line; 0 is its broadcast (no answer comes back) and 248–255 are
    /// reserved (Modbus over Serial Line V1.02, §2.2). Over TCP, 0 and 255 address the server itself.
    private static func readUnitID(_ reader: ConfigReader, serial: Bool) -> Int {
        guard let unit = reader.int("unit_id") else { return 1 }
        let valid = (1...247).contains(unit) || (!serial && (unit == 0 || unit == 255))
        guard valid else {
            reader.invalid("unit_id", "must be 1 to 247, got \(unit)"
                + (serial ? " (0 is the serial line's broadcast, which no device answers)" : " (or 0 or 255 over tcp)"))
            return 1
        }
        return unit
    }

    private static func readEndpoint(_ reader: ConfigReader, preset: ModbusPreset?, context: InputContext)
        -> ModbusEndpoint?
    {
        let host = reader.string("host"), device = reader.string("device")
        let inferred = host != nil ? "tcp" : (device != nil || context.rs485Device != nil ? "rtu" : "tcp")
        let transport = reader.choice("transport", ["tcp", "rtu"], default: inferred)
        let tcpKeys = ["host", "port"], rtuKeys = ["device", "baud", "parity", "data_bits", "stop_bits"]
        for key in (transport == "tcp" ? rtuKeys : tcpKeys) where reader.contains(key) {
            reader.invalid(key, "`\(key)` is a setting of transport = \"\(transport == "tcp" ? "rtu" : "tcp")\"; this "
                + "device uses transport = \"\(transport)\"")
            _ = reader.node(key)
        }
        if transport == "tcp" {
            let port = reader.int("port", in: 1...65535, default: 502)
            guard let host else {
                reader.missing("host", "give the device's address, e.g. host = \"192.168.1.50\" (or device = "
                    + "\"/dev/ttyUSB0\" for a serial line)")
                return nil
            }
            guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else {
                reader.invalid("host", "`\(host)` is not a host name or address")
                return nil
            }
            return .tcp(host: host, port: port)
        }
        return readSerialLine(reader, device: device, preset: preset, context: context).map { .rtu($0) }
    }

    private static func readSerialLine(_ reader: ConfigReader, device: String?, preset: ModbusPreset?,
                                       context: InputContext) -> ModbusSerialLine? {
        var line = ModbusSerialLine(device: device ?? context.rs485Device ?? "")
        if let preset {
            line.baud = preset.baud
            line.parity = preset.parity
            line.stopBits = preset.stopBits
        }
        line.baud = reader.int("baud", in: 50...4_000_000, default: line.baud)
        let parity = reader.choice("parity", ModbusSerialLine.Parity.allCases.map(\.rawValue),
                                   default: line.parity.rawValue)
        line.parity = ModbusSerialLine.Parity(rawValue: parity) ?? line.parity
        line.dataBits = reader.int("data_bits", in: 7...8, default: line.dataBits)
        line.stopBits = reader.int("stop_bits", in: 1...2, default: line.stopBits)
        guard !line.device.isEmpty else {
            reader.missing("device", "give the serial device, e.g. device = \"/dev/ttyUSB0\" (gateway.board names "
                + "one for boards with an RS-485 port)")
            return nil
        }
        guard line.device.hasPrefix("/") else {
            reader.invalid("device", "`\(line.device)` is not a device path; write it like \"/dev/ttyUSB0\"")
            return nil
        }
        // One bus, one set of line settings: the first table naming the device sets them.
        let claimed = reader.contains("device") ? reader.node("device")?.location : reader.node.location
        if let earlier = context.claims.claim("modbus.line:\(line.device)", value: line.description, at: claimed),
            earlier.value != line.description
        {
            let place = earlier.location.map { " (line \($0.line))" } ?? ""
            reader.invalid(reader.contains("device") ? "device" : "transport",
                           "\(line.device) is already used as \(earlier.value)\(place); devices on one bus share "
                               + "one baud rate, parity, data bits and stop bits")
        }
        return line
    }
}

/// Reads one `[[input.modbus.registers]]` table.
enum ModbusRegisterReader {
    static func read(_ reader: ConfigReader) -> ModbusRegister? {
        let name = reader.requiredString("name", hint: "name the value, e.g. name = \"voltage\"")
        if let name, name.isEmpty || !SensorIdentity.isValidName(name) {
            reader.invalid("name", "`\(name)` is not a valid series name; use letters, digits, `_`, `-` and `.`")
        }
        let table = ModbusTable(rawValue: reader.choice("table", ModbusTable.allCases.map(\.rawValue),
                                                        default: "holding")) ?? .holding
        if !reader.contains("address") { reader.missing("address", "give the register's address, e.g. address = 0") }
        let address = reader.int("address", in: 0...65535, default: 0)
        let typeNames = ModbusValueType.allCases.map(\.rawValue)
        let type = ModbusValueType(rawValue: reader.choice("type", typeNames,
                                                           default: table.holdsBits ? "bool" : "uint16")) ?? .uint16
        let order = ModbusOrder(rawValue: reader.choice("order", ModbusOrder.allCases.map(\.rawValue),
                                                        default: "ABCD")) ?? .abcd
        let bit = reader.contains("bit") ? reader.int("bit", in: 0...15, default: 0) : nil
        let length = reader.contains("length") ? reader.int("length", in: 1...125, default: 1) : nil
        var register = ModbusRegister(name: name ?? "", table: table, address: address, type: type, order: order,
                                      scale: reader.double("scale", default: 1),
                                      offset: reader.double("offset", default: 0),
                                      unit: reader.string("unit", default: ""), bit: bit)
        register.kind = SeriesKind(rawValue: reader.choice("kind", ["gauge", "counter"], default: "gauge")) ?? .gauge
        for (key, value) in reader.stringMap("attributes") { register.attributes[key] = .string(value) }
        let valid = check(register, length: length, reader: reader)
        reader.finish()
        guard valid, let name, !name.isEmpty, reader.contains("address") else { return nil }
        return register
    }

    /// What the table cannot hold: a type its table has no room for, a `bit` or `order` that means nothing there,
    /// a `length` that disagrees with the type, a value running past address 65535.
    private static func check(_ register: ModbusRegister, length: Int?, reader: ConfigReader) -> Bool {
        var valid = true
        func refuse(_ key: String, _ message: String) {
            reader.invalid(key, message)
            valid = false
        }
        if register.table.holdsBits, register.type != .bool {
            refuse("type", "a \(register.table.label) holds one bit; its type is `bool`, not "
                + "`\(register.type.rawValue)`")
        }
        if register.bit != nil, register.table.holdsBits || register.type != .bool {
            refuse("bit", register.table.holdsBits ? "a \(register.table.label) is one bit already; leave `bit` out"
                : "`bit` picks one bit of a register for type = \"bool\"; this value is `\(register.type.rawValue)`")
        }
        if register.table.holdsBits, reader.contains("order") {
            refuse("order", "a \(register.table.label) has no byte order; leave `order` out")
        }
        if let length, length != register.span {
            let count = register.span == 1 ? "1 register" : "\(register.span) registers"
            refuse("length", "a \(register.type.rawValue) spans \(count), not \(length); check the type against the "
                + "device's register map")
        }
        if register.address + register.span - 1 > 65535 {
            refuse("address", "a \(register.type.rawValue) at \(register.address) runs past address 65535")
        }
        return valid
    }
}

/// Checks a device's whole map: values that share an address, names used twice, values too wide for
/// `max_registers`.
enum ModbusMapCheck {
    static func check(preset: [ModbusRegister], own: [(register: ModbusRegister, reader: ConfigReader)],
                      maxRegisters: Int, reader: ConfigReader) {
        var seen: [(register: ModbusRegister, line: Int?)] = preset.map { ($0, nil) }
        for (register, table) in own {
            if let clash = seen.first(where: { overlap($0.register, register) }) {
                let place = clash.line.map { " (line \($0))" } ?? " (from the preset)"
                table.invalid("address", "\(register.place) of `\(register.name)` overlap \(clash.register.place) of "
                    + "`\(clash.register.name)`\(place); each register belongs to one value")
            } else if let twin = seen.first(where: {
                $0.register.name == register.name && $0.register.attributes == register.attributes
            }) {
                let place = twin.line.map { " at line \($0)" } ?? " in the preset"
                table.invalid("name", "`\(register.name)` is already a value of this device\(place); series must "
                    + "differ by name or attributes")
            }
            if register.span > maxRegisters {
                table.invalid("type", "a \(register.type.rawValue) spans \(register.span) registers, more than "
                    + "max_registers = \(maxRegisters)")
            }
            seen.append((register, table.node.location?.line))
        }
    }

    /// Two values overlap when they share an address of one table; bools reading different bits of one register
    /// do not (a status word holds sixteen of them).
    static func overlap(_ a: ModbusRegister, _ b: ModbusRegister) -> Bool {
        guard a.table == b.table, a.address <= b.lastAddress, b.address <= a.lastAddress else { return false }
        if let bitA = a.bit, let bitB = b.bit, a.address == b.address { return bitA == bitB }
        return true
    }
}
