import Foundation
import OutpostTestSupport
import Testing

/// The settings of the installed unit file that say how systemd starts the service.
struct UnitFile {
    let values: [String: [String]]

    init(path: String) throws {
        var values: [String: [String]] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        where !line.hasPrefix("#") && line.contains("=") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            values[parts[0], default: []].append(parts.count > 1 ? parts[1] : "")
        }
        self.values = values
    }

    subscript(key: String) -> String? { values[key]?.last }
}

@Suite("The Debian package, installed on this machine")
struct PackageTests {
    /// Written before this test installs the package and removed after it purged it: a run killed in between (a
    /// cancelled CI job) leaves both behind, and the next run may purge a package it knows it installed itself, while
    /// an operator's own installation is never touched.
    static let installMarker = "/var/tmp/outpost-package-test.installed"

    private func removeLeftoverOfThisTest() async throws {
        guard FileManager.default.fileExists(atPath: Self.installMarker) else { return }
        let (purged, log) = try await shell("dpkg --purge outpost && rm -rf /run/outpost \(Self.installMarker)")
        try #require(purged == 0, "a package left by a killed run of this test could not be purged: \(log)")
    }

    @Test("installs, verifies, runs as its unit would (its user, its directories, READY and WATCHDOG), purges clean")
    func installAndRun() async throws {
        #expect(getuid() == 0, "installing a package needs root (CI runs as root)")
        try await removeLeftoverOfThisTest()
        let (installed, _) = try await shell("dpkg -s outpost")
        try #require(installed != 0, "an outpost package is already installed here; remove it to run this test")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("deb-\(UUID().uuidString)").path
        let (built, package) = try await shell("\(repositoryRoot.path)/Scripts/package-deb --binary \(OutpostProcess.binary.path) --out \(out) --fast")
        try #require(built == 0, "\(package)")
        let deb = package.split(separator: "\n").last.map(String.init) ?? ""
        #expect(try await shell("dpkg-deb --info \(deb) conffiles").1.contains("/etc/outpost/outpost.toml"))
        try await shell("touch \(Self.installMarker)")
        defer { _ = try? shell("dpkg --purge outpost; rm -rf /run/outpost \(Self.installMarker)") }
        let (installStatus, installLog) = try await shell("dpkg -i \(deb)")
        try #require(installStatus == 0, "\(installLog)")

        #expect(try await shell("id -nG outpost").1.split(whereSeparator: \.isWhitespace).first == "outpost")
        #expect(try await shell("stat -c '%U:%G %a' /etc/outpost/outpost.toml").1 == "root:outpost 640\n")
        let (verified, verifyLog) = try await shell("systemd-analyze verify /lib/systemd/system/outpost.service")
        #expect(verified == 0, "\(verifyLog)")

        let unit = try UnitFile(path: "/lib/systemd/system/outpost.service")
        #expect(unit["Type"] == "notify")
        #expect(unit["User"] == "outpost")
        #expect(unit["NoNewPrivileges"] == "yes" && unit["ProtectSystem"] == "strict")
        let watchdog = try #require(unit["WatchdogSec"].flatMap { Int($0.dropLast()) })
        // What systemd does before ExecStart: the directories, and everything in them, owned by the service's user
        // (an `outpost run` started by hand as root may have left a root-owned spool there).
        for (directory, mode) in [("/var/lib/" + (unit["StateDirectory"] ?? "?"), "0750"),
                                  ("/run/" + (unit["RuntimeDirectory"] ?? "?"), "0755")] {
            try await shell("mkdir -p \(directory) && chown -R outpost:outpost \(directory) && chmod \(mode) \(directory)")
        }
        let asUnit = "setpriv --reuid=outpost --regid=outpost --init-groups env -i PATH=/usr/bin:/bin "
            + "STATE_DIRECTORY=/var/lib/outpost RUNTIME_DIRECTORY=/run/outpost"
        let (checked, checkLog) = try await shell("\(asUnit) \(unit["ExecStartPre"] ?? "false")")
        #expect(checked == 0, "\(checkLog)")

        let notify = try NotifySocket()
        chmod(notify.path, 0o666)
        let service = Process()
        service.executableURL = URL(fileURLWithPath: "/bin/sh")
        service.arguments = ["-c", "exec \(asUnit) NOTIFY_SOCKET=\(notify.path) WATCHDOG_USEC=\(watchdog * 1_000_000) "
            + "JOURNAL_STREAM=8:1 \(unit["ExecStart"] ?? "false")"]
        let log = out + "/service.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        service.standardError = FileHandle(forWritingAtPath: log)
        try service.run()
        defer { kill(service.processIdentifier, SIGKILL) }
        let serviceLog = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        #expect(notify.next() == "READY=1\nSTATUS=running", "\(serviceLog())")
        #expect(notify.next() == "WATCHDOG=1")
        try await poll("the status file on tmpfs and the spool in the state directory") {
            FileManager.default.fileExists(atPath: "/run/outpost/status.json")
                && FileManager.default.fileExists(atPath: "/var/lib/outpost/spool.db")
        }
        #expect(try await shell("stat -c %U /var/lib/outpost/spool.db").1 == "outpost\n")
        kill(service.processIdentifier, SIGKILL)
        service.waitUntilExit()
        try await serialPortThroughTheUnit(unit, asUser: asUnit)

        let (purged, purgeLog) = try await shell("dpkg --purge outpost")
        #expect(purged == 0, "\(purgeLog)")
        #expect(!FileManager.default.fileExists(atPath: "/usr/bin/outpost"))
        #expect(!FileManager.default.fileExists(atPath: "/var/lib/outpost"))
        #expect(try await shell("getent passwd outpost").0 != 0)
    }
}

extension PackageTests {
    /// The unit grants serial ports (root:dialout 0660) through `SupplementaryGroups=dialout` and nothing else: the
    /// service's groups (the user's own plus the unit's) read a Modbus device on one; the user's own groups alone
    /// cannot open it, and the error says what to do.
    func serialPortThroughTheUnit(_ unit: UnitFile, asUser: String) async throws {
        #expect(unit["SupplementaryGroups"] == "dialout")
        #expect(unit["AmbientCapabilities"] == "" && unit["CapabilityBoundingSet"] == "")
        let accountGroups = try await shell("id -nG outpost").1
        #expect(!accountGroups.contains("dialout"), "the account itself is not in dialout")
        let pair = try SerialPair()
        let server = try ModbusTestServer(rtu: pair.serverEnd, parity: "N")
        let port = try FileManager.default.destinationOfSymbolicLink(atPath: pair.outpostEnd)
        try await shell("chown root:dialout \(port) && chmod 0660 \(port)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("serial-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try """
            [log]
            readings_interval = "1s"
            [[input.modbus]]
            name = "bus"
            device = "\(pair.outpostEnd)"
            parity = "none"
            interval = "200ms"
            timeout = "200ms"
            stale_after = 1
            [[input.modbus.registers]]
            name = "volts"
            table = "input"
            address = 0
            type = "float32"
            unit = "V"
            """.write(toFile: folder + "/serial.toml", atomically: true, encoding: .utf8)
        try await shell("chmod -R a+rX \(folder)")
        let userGroups = try await shell("id -G outpost").1.trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: " ", with: ",")
        let dialout = try await shell("getent group dialout | cut -d: -f3").1.trimmingCharacters(in: .whitespacesAndNewlines)
        let withUnitGroups = asUser.replacingOccurrences(of: "--init-groups", with: "--groups=\(userGroups),\(dialout)")
        let run = "/usr/bin/outpost run --config \(folder)/serial.toml --log-level info"
        for (command, expected) in [(withUnitGroups, "bus.volts=230.1 V"),
                                    (asUser, "Permission denied; the user running Outpost needs the `dialout` group")] {
            let log = folder + "/log-\(UUID().uuidString)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "exec \(command) \(run) 2>\(log)"]
            try process.run()
            defer {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            let text = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
            try await poll("`\(expected)` in the service's log") { text().contains(expected) }
        }
        _ = server
    }
}

@Suite("The Debian package for arm64")
struct ARM64PackageTests {
    @Test("an aarch64 binary is packaged as arm64, stripped, and still runs (under qemu)")
    func arm64Package() async throws {
        let (status, sysrootOutput) = try await shell("\(repositoryRoot.path)/Scripts/cross/assemble-sysroot arm64")
        try #require(status == 0, "\(sysrootOutput)")
        let sysroot = sysrootOutput.split(separator: "\n").last.map(String.init) ?? ""
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("arm64-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try "#include <stdio.h>\nint main(void) { puts(\"outpost 0.1.0\"); return 0; }\n"
            .write(toFile: work + "/main.c", atomically: true, encoding: .utf8)
        let (built, buildLog) = try await shell(". \(repositoryRoot.path)/Scripts/cross/lib.sh && \"$(toolchain_tool clang)\" "
            + "--target=aarch64-linux-gnu --sysroot=\(sysroot) -fuse-ld=lld -g -o \(work)/outpost \(work)/main.c")
        try #require(built == 0, "\(buildLog)")
        let (packaged, output) = try await shell("\(repositoryRoot.path)/Scripts/package-deb --arch arm64 --binary \(work)/outpost --out \(work) --fast")
        try #require(packaged == 0, "\(output)")
        let deb = output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(deb.hasSuffix("_arm64.deb"))
        #expect(try await shell("dpkg-deb -f \(deb) Architecture").1 == "arm64\n")
        try await shell("dpkg-deb -x \(deb) \(work)/root")
        #expect(try await shell("readelf -S \(work)/root/usr/bin/outpost | grep -c debug_info").1 == "0\n", "stripped")
        #expect(try await shell("readelf -S \(work)/outpost | grep -c debug_info").1 != "0\n", "the input had symbols")
        #expect(try await shell("qemu-aarch64 -cpu cortex-a72 -L \(sysroot) \(work)/root/usr/bin/outpost").1 == "outpost 0.1.0\n")
    }
}
