/// The DS18B20 1-Wire thermometer as the Linux `w1_therm` driver presents it.
///
/// `w1_slave` holds two lines: the scratchpad with the driver's CRC verdict (`... crc=5e YES`), then the same bytes
/// with `t=23125` (millidegrees Celsius). A failed CRC means a garbled read. 85.0 °C is the power-on reset value
/// (the conversion never ran) and -127 °C what the driver reports when the device did not answer: both are faults,
/// never temperatures.
public enum DS18B20 {
    public static let faultValues: [Double] = [85.0, -127.0]

    public enum ReadResult: Equatable, Sendable {
        case celsius(Double)
        case fault(String)
    }

    public static func parse(_ text: String) -> ReadResult {
        let lines = text.split(separator: "\n")
        guard lines.count >= 2 else { return .fault("w1_slave has \(lines.count) line(s), expected 2") }
        guard lines[0].trimmingSpacesSubstring().hasSuffix("YES") else {
            return .fault("CRC check failed (\(lines[0].trimmingSpacesSubstring().suffix(12)))")
        }
        let reading = lines[1].split(separator: " ").last { $0.hasPrefix("t=") }
        guard let reading, let milli = Double(reading.dropFirst(2).trimmingSpacesSubstring()) else {
            return .fault("no `t=` reading in `\(lines[1])`")
        }
        return .celsius(milli / 1000)
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
