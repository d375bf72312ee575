import Foundation
import OutpostCore
import Testing

@testable import OutpostInputs

/// A fake /sys whose hwmon numbering changes between reads, as it does after a reboot or a driver reload.
@Suite("hwmon chips found by name and device, not by index")
struct HwmonTests {
    /// `<root>/class/hwmon/hwmonN` folders with a `name`, a `device` link and a `temp1_input`.
    final class FakeSys {
        let root: URL

        init(_ chips: [(index: Int, name: String, device: String?, millidegrees: Int)]) throws {
            root = try temporaryDirectory()
            for chip in chips { try add(chip) }
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        var hwmon: URL { root.appendingPathComponent("class/hwmon") }

        func add(_ chip: (index: Int, name: String, device: String?, millidegrees: Int)) throws {
            let folder = hwmon.appendingPathComponent("hwmon\(chip.index)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try "\(chip.name)\n".write(to: folder.appendingPathComponent("name"), atomically: true, encoding: .utf8)
            try "\(chip.millidegrees)\n".write(to: folder.appendingPathComponent("temp1_input"), atomically: true,
                                              encoding: .utf8)
            if let device = chip.device {
                try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("device").path,
                                                           withDestinationPath: "../../../devices/i2c-1/\(device)")
            }
        }

        /// Renumbers two chips, as a reboot that loads their drivers the other way round does.
        func swap(_ a: Int, _ b: Int) throws {
            let first = hwmon.appendingPathComponent("hwmon\(a)"), second = hwmon.appendingPathComponent("hwmon\(b)")
            let aside = hwmon.appendingPathComponent("aside")
            try FileManager.default.moveItem(at: first, to: aside)
            try FileManager.default.moveItem(at: second, to: first)
            try FileManager.default.moveItem(at: aside, to: second)
        }
    }

    func fileReader(_ sys: FakeSys, _ entries: [(String, ConfigValue)]) throws -> FileReader {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        let configuration = FileInputConfiguration.read(reader([("name", .string("case.temperature")),
                                                                ("unit", .string("Cel")), ("scale", .double(0.001)),
                                                                ("sys_path", .string(sys.root.path))] + entries,
                                                               diagnostics: diagnostics), context: context())
        #expect(diagnostics.errors.isEmpty, "\(diagnostics.errors)")
        return FileReader(configuration: try #require(configuration))
    }

    @Test("hwmon = chip name keeps reading the same chip when the kernel renumbers them; an index path does not")
    func indicesSwap() throws {
        let sys = try FakeSys([(0, "cpu_thermal", nil, 48_000), (1, "lm75", "1-0048", 21_500)])
        var byName = try fileReader(sys, [("hwmon", .string("lm75")), ("path", .string("temp1_input"))])
        var byIndex = try fileReader(sys, [("path", .string(sys.hwmon.path + "/hwmon1/temp1_input"))])
        #expect(byName.read(now: 1).value("case.temperature") == 21.5)
        #expect(byIndex.read(now: 1).value("case.temperature") == 21.5)
        try sys.swap(0, 1)
        #expect(byName.read(now: 2).value("case.temperature") == 21.5, "still the lm75")
        #expect(byIndex.read(now: 2).value("case.temperature") == 48, "the index now names the CPU: two sensors spliced")
        let series = try #require(byName.read(now: 3).samples.first?.series)
        #expect(series.attributes["hw.id"] == .string("lm75/temp1_input"))
    }

    @Test("two chips of one name are told apart by device; without it the fault names both")
    func sameName() throws {
        let sys = try FakeSys([(0, "lm75", "1-0048", 21_000), (1, "lm75", "1-0049", 25_000)])
        var ambiguous = try fileReader(sys, [("hwmon", .string("lm75")), ("path", .string("temp1_input"))])
        let fault = try #require(ambiguous.read(now: 1).events.first)
        #expect(fault.message.contains("2 hwmon chips are named `lm75` (1-0048, 1-0049)"), "\(fault.message)")
        var second = try fileReader(sys, [("hwmon", .string("lm75@1-0049")), ("path", .string("temp1_input"))])
        #expect(second.read(now: 1).value("case.temperature") == 25)
        try sys.swap(0, 1)
        #expect(second.read(now: 2).value("case.temperature") == 25)
    }

    @Test("a chip that is gone is a fault naming the chips there are, and found again when it returns")
    func chipGone() throws {
        let sys = try FakeSys([(0, "cpu_thermal", nil, 48_000)])
        var reader = try fileReader(sys, [("hwmon", .string("lm75")), ("path", .string("temp1_input"))])
        let fault = try #require(reader.read(now: 1).events.first)
        #expect(fault.message.contains("no hwmon chip `lm75` (there are: cpu_thermal)"), "\(fault.message)")
        try sys.add((3, "lm75", "1-0048", 22_000))
        #expect(reader.read(now: 2).value("case.temperature") == 22)
    }

    @Test("with hwmon, path names a file of the chip's folder")
    func relativePathOnly() {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        _ = FileInputConfiguration.read(reader([("name", .string("x")), ("hwmon", .string("lm75")),
                                                ("path", .string("/sys/class/hwmon/hwmon1/temp1_input"))],
                                               diagnostics: diagnostics), context: context())
        #expect(diagnostics.errors.first?.message.contains("name the file in the chip's folder") == true)
    }
}
