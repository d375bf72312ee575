import Foundation
import OutpostCore
import Testing
@testable import OutpostInputs

@Suite("Host input on a fake /proc and /sys tree")
struct HostInputTests {
    func makeReader(root: String, disk: String, board: HostBoardDefaults = HostBoardDefaults(),
                    extra: [(String, ConfigValue)] = []) throws -> HostReader {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        let configuration = HostInputConfiguration.read(reader([
            ("proc_path", .string(root + "/proc")), ("sys_path", .string(root + "/sys")),
            ("disk_path", .string(disk)), ("location", .string("shed")),
        ] + extra, diagnostics: diagnostics), context: context(hostDefaults: board))
        #expect(diagnostics.errors.isEmpty)
        return HostReader(configuration: configuration)
    }

    @Test("an impossible temperature names the zone, its type and the file it came from")
    func impossibleTemperatureNamesZone() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let zone = root.appendingPathComponent("sys/class/thermal/thermal_zone3")
        try FileManager.default.createDirectory(at: zone, withIntermediateDirectories: true)
        try "-274000\n".write(to: zone.appendingPathComponent("temp"), atomically: true, encoding: .utf8)
        try "gpu-thermal\n".write(to: zone.appendingPathComponent("type"), atomically: true, encoding: .utf8)
        var host = try makeReader(root: root.path, disk: NSTemporaryDirectory(),
                                  extra: [("collect", .array([ConfigNode(value: .string("temperature"),
                                                                         path: ConfigPath(), location: nil)]))])
        let problem = try #require(host.read(now: 1).problems.first)
        #expect(problem.hasPrefix("hw.temperature of thermal_zone3 (gpu-thermal, \(root.path)/sys/class/thermal/"
            + "thermal_zone3/temp): -274 Cel is below -273.15 Cel"), "\(problem)")
    }

    @Test("reads load, memory, uptime, temperatures, network, Wi-Fi and Pi throttling flags")
    func readsEverything() throws {
        let root = fixture("host")
        var host = try makeReader(root: root, disk: NSTemporaryDirectory())
        let readings = host.read(now: 1)
        #expect(readings.problems.isEmpty, "\(readings.problems)")
        #expect(readings.value("system.cpu.load_average.1m") == 0.52)
        #expect(readings.value("system.cpu.load_average.15m") == 0.59)
        #expect(readings.value("system.memory.usage") == Double(3_884_360 - 2_913_270) * 1024)
        #expect(readings.value("system.linux.memory.available") == Double(2_913_270 * 1024))
        #expect(readings.value("system.uptime") == 12345.67)
        #expect(readings.value("hw.temperature", ["hw.id": "thermal_zone0", "hw.type": "cpu-thermal"]) == 48.312)
        #expect(readings.value("hw.temperature", ["hw.id": "thermal_zone1"]) == 41.0)
        #expect(readings.value("system.network.io", ["network.interface.name": "eth0",
                                                     "network.io.direction": "receive"]) == 98_765_432)
        #expect(readings.value("system.network.io", ["network.interface.name": "wlan0",
                                                     "network.io.direction": "transmit"]) == 2_222_222)
        #expect(readings.value("system.network.io", ["network.interface.name": "lo"]) == nil, "loopback is left out")
        #expect(readings.value("outpost.wifi.signal", ["network.interface.name": "wlan0"]) == -56)
        // 0x50005: under-voltage now (bit 0) and throttled now (bit 2); under-voltage since boot (bit 16) and
        // throttled since boot (bit 18).
        #expect(readings.value("outpost.rpi.under_voltage") == 1)
        #expect(readings.value("outpost.rpi.frequency_capped") == 0)
        #expect(readings.value("outpost.rpi.throttled") == 1)
        #expect(readings.value("outpost.rpi.under_voltage.since_boot") == 1)
        #expect(readings.value("outpost.rpi.throttled.since_boot") == 1)
        #expect(readings.value("system.filesystem.usage", ["system.filesystem.state": "free"]) ?? 0 > 0)
        let counter = readings.samples.first { $0.series.name == "system.network.io" }
        #expect(counter?.series.kind == .counter)
        #expect(readings.samples.allSatisfy { $0.series.attributes["location"] == .string("shed") })
    }

    @Test("a board's health locations are the defaults: its thermal zone, its Wi-Fi interface, no throttling file")
    func boardDefaults() throws {
        let root = fixture("host")
        let pi = HostBoardDefaults(thermalZones: ["thermal_zone0"], throttledFile: nil, wifiInterfaces: ["wlan0"])
        var onPi = try makeReader(root: root, disk: NSTemporaryDirectory(), board: pi)
        let piReadings = onPi.read(now: 1)
        #expect(piReadings.value("hw.temperature", ["hw.id": "thermal_zone0"]) == 48.312)
        #expect(piReadings.value("hw.temperature", ["hw.id": "thermal_zone1"]) == nil)
        #expect(piReadings.value("outpost.rpi.throttled") == 1)
        let generic = HostBoardDefaults(thermalZones: ["*"], throttledFile: "", wifiInterfaces: ["wlx*"])
        var onGeneric = try makeReader(root: root, disk: NSTemporaryDirectory(), board: generic)
        let genericReadings = onGeneric.read(now: 1)
        #expect(genericReadings.value("hw.temperature", ["hw.id": "thermal_zone1"]) == 41.0)
        #expect(genericReadings.value("outpost.rpi.throttled") == nil, "no throttling file on this board")
        #expect(genericReadings.value("outpost.wifi.signal", ["network.interface.name": "wlan0"]) == nil)
        // The config wins over the board.
        var overridden = try makeReader(root: root, disk: NSTemporaryDirectory(), board: pi,
                                        extra: [("thermal_zones", .array([ConfigNode(value: .string("thermal_zone1"), path: ConfigPath([]), location: nil)]))])
        #expect(overridden.read(now: 1).value("hw.temperature", ["hw.id": "thermal_zone1"]) == 41.0)
    }

    @Test("CPU utilization comes from the difference between two reads of /proc/stat")
    func cpuUtilization() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("proc"), withIntermediateDirectories: true)
        let stat = root.appendingPathComponent("proc/stat")
        try "cpu  1000 0 1000 8000 0 0 0 0\n".write(to: stat, atomically: true, encoding: .utf8)
        var host = try makeReader(root: root.path, disk: root.path)
        #expect(host.read(now: 1).value("system.cpu.utilization") == nil, "the first read only sets the baseline")
        // 300 more busy jiffies out of 1000: 30 %.
        try "cpu  1200 0 1100 8700 0 0 0 0\n".write(to: stat, atomically: true, encoding: .utf8)
        let second = host.read(now: 2)
        #expect(abs((second.value("system.cpu.utilization") ?? -1) - 0.3) < 1e-12)
        #expect(second.problems.isEmpty, "missing optional files (thermal, wireless) are skipped silently")
    }

    @Test("a file that exists but cannot be parsed is reported, and the rest still arrives")
    func malformedFileReported() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("proc"), withIntermediateDirectories: true)
        try "garbage\n".write(to: root.appendingPathComponent("proc/loadavg"), atomically: true, encoding: .utf8)
        try "4000.5 1.0\n".write(to: root.appendingPathComponent("proc/uptime"), atomically: true, encoding: .utf8)
        var host = try makeReader(root: root.path, disk: root.path)
        let readings = host.read(now: 1)
        #expect(readings.problems.contains { $0.contains("loadavg") })
        #expect(readings.value("system.uptime") == 4000.5)
    }

    @Test("disk usage falls back to the nearest existing parent of a state directory not created yet")
    func diskFallsBack() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var host = try makeReader(root: root.path, disk: root.path + "/not/yet/created")
        let readings = host.read(now: 1)
        #expect(readings.value("system.filesystem.utilization") != nil)
        #expect(readings.samples.first { $0.series.name == "system.filesystem.utilization" }?
            .series.attributes["system.filesystem.mountpoint"] == .string(root.path))
    }

    @Test("an unknown collect group is a config error naming the choices")
    func unknownGroup() {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        _ = HostInputConfiguration.read(reader([("collect", .array([
            ConfigNode(value: .string("cpu"), path: ConfigPath(), location: nil),
            ConfigNode(value: .string("gpu"), path: ConfigPath(), location: nil),
        ]))], diagnostics: diagnostics), context: context())
        #expect(diagnostics.errors.count == 1)
        #expect(diagnostics.errors.first?.message.contains("`gpu` is not a host group") == true)
    }
}
