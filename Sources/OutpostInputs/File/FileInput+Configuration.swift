import OutpostCore

/// `[[input.file]]`: a number read from any file at an interval (sysfs, hwmon, IIO, 1-Wire).
package struct FileInputConfiguration: Sendable {
    package enum Preset: String, Sendable, CaseIterable {
        /// Plain text: the first number, or the `regex` capture.
        case none = ""
        /// A DS18B20 1-Wire thermometer's `w1_slave`: CRC line must end in YES; 85.0 and -127 are faults.
        case ds18b20
    }

    /// `path` (required): the file to read; for `ds18b20`, the `w1_slave` file or its device folder; with `hwmon`,
    /// the file in the chip's folder (`temp1_input`).
    package var path: String
    /// `hwmon`, default none: the hwmon chip to read from, by its `name` (`"lm75"`) or name and device
    /// (`"lm75@1-0048"`), found under `<sys_path>/class/hwmon` on every read where the numbering changed.
    package var hwmon: HwmonChip?
    /// `name`, `unit`, `sensor_id`, `device`, `location`, `attributes`: see `SensorIdentity`.
    package var identity: SensorIdentity
    /// `interval`, default `"10s"`.
    package var interval: Duration = .seconds(10)
    /// `timeout`, default `"5s"`: a read that takes longer (a sysfs file of a hung I2C or 1-Wire device, which the
    /// kernel may never return from) is given up on and reported as a fault; the input is skipped until it returns.
    package var timeout: Duration = .seconds(5)
    /// `preset`, default `""`: `"ds18b20"` for 1-Wire thermometers.
    package var preset = Preset.none
    /// `regex`, `scale`, `offset`: see `NumberExtraction`.
    package var extraction: NumberExtraction
    /// `fault_values`, default `[]` (ds18b20: `[85.0, -127.0]`): values (after `scale`,
    /// before `offset`) that mean the sensor failed.
    package var faultValues: [Double] = []

    static func read(_ reader: ConfigReader, context: InputContext) -> FileInputConfiguration? {
        let presetName = reader.choice("preset", Preset.allCases.map(\.rawValue), default: "")
        let preset = Preset(rawValue: presetName) ?? .none
        let path = reader.requiredString("path", hint: "point it at the file to read, e.g. path = \"/sys/bus/iio/...\"")
        let sysPath = context.resolve(reader.string("sys_path", default: "/sys"))
        var hwmon: HwmonChip?
        if let spec = reader.string("hwmon") {
            hwmon = HwmonChip(spec, sysPath: sysPath)
            if hwmon == nil {
                reader.invalid("hwmon", "write the chip's name, or name@device, e.g. hwmon = \"lm75@1-0048\"")
            }
            if let path, path.hasPrefix("/") || path.contains("..") {
                reader.invalid("path", "with hwmon, name the file in the chip's folder, e.g. path = \"temp1_input\"")
            }
        }
        let identity = SensorIdentity.read(reader, defaultUnit: preset == .ds18b20 ? "Cel" : "")
        let extraction = NumberExtraction.read(reader)
        let interval = reader.positiveDuration("interval", default: .seconds(10))
        let timeout = reader.positiveDuration("timeout", default: .seconds(5))
        let faults = reader.node("fault_values").map { _ in readFaultValues(reader) } ?? nil
        reader.finish()
        guard let path else { return nil }
        var configuration = FileInputConfiguration(path: hwmon == nil ? context.resolve(path) : path,
                                                   identity: identity, extraction: extraction)
        configuration.hwmon = hwmon
        if let hwmon, configuration.identity.attributes["hw.id"] == nil {
            configuration.identity.attributes["hw.id"] = .string("\(hwmon.description)/\(path)")
        }
        configuration.interval = interval
        configuration.timeout = timeout
        configuration.preset = preset
        configuration.faultValues = faults ?? (preset == .ds18b20 ? DS18B20.faultValues : [])
        if preset == .ds18b20 {
            configuration.path = DS18B20.dataFile(for: configuration.path)
            if configuration.identity.attributes["sensor.id"] == nil, let id = DS18B20.deviceID(in: configuration.path) {
                configuration.identity.attributes["sensor.id"] = .string(id)
            }
        }
        return configuration
    }

    private static func readFaultValues(_ reader: ConfigReader) -> [Double]? {
        guard let node = reader.node("fault_values"), case .array(let items) = node.value else {
            reader.invalid("fault_values", "expected an array of numbers, e.g. [85.0, -127.0]")
            return nil
        }
        return items.compactMap { item in
            switch item.value {
            case .double(let value): return value
            case .int(let value): return Double(value)
            default:
                reader.diagnostics.report(.wrongType, "expected a number, found \(item.value.typeName)", at: item)
                return nil
            }
        }
    }
}
