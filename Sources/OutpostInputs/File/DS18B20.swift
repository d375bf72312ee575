/// The DS18B20 1-Wire thermometer as the Linux `w1_therm` driver presents it.
///
/// `w1_slave` holds two lines: the scratchpad with the driver's CRC verdict (`... crc=5e YES`), then the same bytes
/// with `t=23125` (millidegrees Celsius). A failed CRC means a garbled read. 85.0 °C is the power-on reset value
/// (the conversion never ran) and -127 °C what the driver reports when the device did not answer: both are faults,
/// never temperatures. So is an all-zero scratchpad (a disconnected or half-connected sensor: its CRC is 0x00, so
/// the driver says `YES`), any scratchpad whose configuration register (byte 4) lacks its five fixed 1 bits, and a
/// temperature outside the range the sensor can measure (-55 to 125 °C).
package enum DS18B20 {
    package static let faultValues: [Double] = [85.0, -127.0]
    package static let measurableRange: ClosedRange<Double> = -55...125

    package enum ReadResult: Equatable, Sendable {
        case celsius(Double)
        case fault(String)
    }

    package static func parse(_ text: String) -> ReadResult {
        let lines = text.split(separator: "\n")
        guard lines.count >= 2 else { return .fault("w1_slave has \(lines.count) line(s), expected 2") }
        guard lines[0].trimmingSpacesSubstring().hasSuffix("YES") else {
            return .fault("CRC check failed (\(lines[0].trimmingSpacesSubstring().suffix(12)))")
        }
        if let problem = scratchpadProblem(lines[0]) { return .fault(problem) }
        let reading = lines[1].split(separator: " ").last { $0.hasPrefix("t=") }
        guard let reading, let milli = Double(reading.dropFirst(2).trimmingSpacesSubstring()), milli.isFinite else {
            return .fault("no `t=` reading in `\(String(lines[1].prefix(80)).escapingInvisibles)`")
        }
        let celsius = milli / 1000
        if celsius == -127 { return .fault("reads -127 °C, what the driver reports when the sensor did not answer") }
        guard measurableRange.contains(celsius) else {
            return .fault("reads \(celsius) °C, outside the DS18B20's range -55…125 °C")
        }
        return .celsius(celsius)
    }

    /// Why the nine scratchpad bytes before `: crc=` cannot come from a DS18B20, or nil when they can.
    static func scratchpadProblem(_ line: Substring) -> String? {
        let hex = line.split(separator: ":").first?.split(separator: " ").compactMap { UInt8($0, radix: 16) } ?? []
        guard hex.count == 9 else { return nil }  // another 1-Wire thermometer family; the CRC verdict stands
        if hex.allSatisfy({ $0 == 0 }) { return "all-zero scratchpad: the sensor did not answer" }
        if hex[4] & 0x1F != 0x1F {
            return "scratchpad configuration byte \(String(hex[4], radix: 16)) lacks its fixed bits: a garbled read"
        }
        return nil
    }

    /// `path` itself when it names a file, else `<path>/w1_slave`.
    static func dataFile(for path: String) -> String {
        path.hasSuffix("w1_slave") || path.hasSuffix("temperature") ? path : path + "/w1_slave"
    }

    /// The `28-xxxxxxxxxxxx` device id in a sysfs path, used as the default `sensor.id`.
    static func deviceID(in path: String) -> String? {
        path.split(separator: "/").last { $0.hasPrefix("28-") }.map(String.init)
    }
}
