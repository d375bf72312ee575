import Foundation
import OutpostCore
import Testing
@testable import OutpostInputs

@Suite("File input and the DS18B20 preset")
struct FileInputTests {
    func fileReader(_ entries: [(String, ConfigValue)]) throws -> FileReader {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        let configuration = FileInputConfiguration.read(reader(entries, diagnostics: diagnostics), context: context())
        #expect(diagnostics.errors.isEmpty, "\(diagnostics.errors)")
        return FileReader(configuration: try #require(configuration))
    }

    @Test("a DS18B20 with a good CRC reads its temperature in degrees Celsius")
    func ds18b20Reads() throws {
        var reader = try fileReader([("preset", .string("ds18b20")), ("name", .string("soil.temperature")),
                                     ("path", .string(fixture("w1/28-0316a2794cff")))])
        let readings = reader.read(now: 1)
        #expect(readings.value("soil.temperature") == 23.125)
        let series = try #require(readings.samples.first?.series)
        #expect(series.unit == "Cel")
        #expect(series.attributes["sensor.id"] == .string("28-0316a2794cff"), "the 1-Wire id becomes the sensor id")
    }

    @Test("85.0 (power-on reset), -127 (failed read) and a failed CRC are sensor faults, not readings",
          arguments: ["w1/28-power-on-reset", "w1/28-failed-read", "w1/28-bad-crc"])
    func ds18b20Faults(path: String) throws {
        var reader = try fileReader([("preset", .string("ds18b20")), ("name", .string("soil.temperature")),
                                     ("path", .string(fixture(path)))])
        let readings = reader.read(now: 1)
        #expect(readings.samples.isEmpty)
        let event = try #require(readings.events.first)
        #expect(event.name == .sensorFault)
        #expect(event.severity == .warn)
    }

    @Test("a calibration offset does not hide the 85.0 fault value")
    func offsetKeepsFaults() throws {
        var reader = try fileReader([("preset", .string("ds18b20")), ("name", .string("t")), ("offset", .double(-0.5)),
                                     ("path", .string(fixture("w1/28-power-on-reset")))])
        #expect(reader.read(now: 1).events.first?.name == .sensorFault)
        var good = try fileReader([("preset", .string("ds18b20")), ("name", .string("t")), ("offset", .double(-0.5)),
                                   ("path", .string(fixture("w1/28-0316a2794cff")))])
        #expect(good.read(now: 1).value("t") == 22.625)
    }

    @Test("a fault is reported once per run of identical failures, and samples resume when the file heals")
    func faultsAreNotRepeated() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("w1_slave")
        var reader = try fileReader([("preset", .string("ds18b20")), ("name", .string("t")), ("path", .string(file.path))])
        #expect(reader.read(now: 1).events.count == 1, "missing file: one fault")
        #expect(reader.read(now: 2).events.isEmpty, "the same fault again: quiet")
        try String(contentsOfFile: fixture("w1/28-0316a2794cff/w1_slave"), encoding: .utf8)
            .write(to: file, atomically: true, encoding: .utf8)
        #expect(reader.read(now: 3).value("t") == 23.125)
        try "garbage".write(to: file, atomically: true, encoding: .utf8)
        #expect(reader.read(now: 4).events.count == 1, "a new fault after recovery is reported again")
    }

    @Test("plain files: regex capture, scale and offset (an IIO BME280 pressure in kPa to hPa)")
    func regexScaleOffset() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pressure = directory.appendingPathComponent("in_pressure_input")
        try "101.325000\n".write(to: pressure, atomically: true, encoding: .utf8)
        var iio = try fileReader([("name", .string("air.pressure")), ("unit", .string("hPa")),
                                  ("path", .string(pressure.path)), ("scale", .double(10))])
        #expect(iio.read(now: 1).value("air.pressure") == 1013.25)
        let status = directory.appendingPathComponent("status")
        try "sensor=ok temp=21.5C rh=40%\n".write(to: status, atomically: true, encoding: .utf8)
        var captured = try fileReader([("name", .string("rh")), ("path", .string(status.path)),
                                       ("regex", .string("rh=([0-9.]+)")), ("offset", .double(1.5))])
        #expect(captured.read(now: 1).value("rh") == 41.5)
    }

    @Test("a regex that does not compile is a config error at its key")
    func badRegex() {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        _ = FileInputConfiguration.read(reader([("name", .string("x")), ("path", .string("/x")),
                                                ("regex", .string("(unclosed"))], diagnostics: diagnostics),
                                        context: context())
        #expect(diagnostics.errors.map(\.path?.description) == ["input.test.regex"])
    }

    @Test("the first number in free text", arguments: [
        ("temp=48.3'C", 48.3), ("-12.5 dBm", -12.5), ("value: 3e2", 300.0), ("load .75", 0.75), ("v1.2.3 42", 1.2),
    ])
    func firstNumber(text: String, expected: Double) {
        #expect(NumberExtraction.firstNumber(in: text).flatMap { Double($0) } == expected)
    }
}
