import Foundation
import OutpostTestSupport
import Testing
@testable import OutpostRuntime

@Suite("systemd notifications")
struct SystemdNotifyTests {
    @Test("READY=1 once running, then WATCHDOG=1 at half of WATCHDOG_USEC")
    func readyAndWatchdog() throws {
        let socket = try NotifySocket()
        let config = try writeTemporary("notify.toml", """
            [gateway]
            state_dir = "\(try temporaryStateDirectory())"
            [[input.simulated]]
            name = "tank.level"
            interval = "100ms"
            """)
        let process = try OutpostProcess.start(config: config,
                                               environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "1000000"])
        defer { kill(process.processIdentifier, SIGKILL) }
        #expect(socket.next() == "READY=1\nSTATUS=running")
        let pings = (0..<3).map { _ in socket.next() }
        #expect(pings == ["WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"])
    }

    @Test("under journald ($JOURNAL_STREAM) log lines carry a syslog priority and no timestamp of their own")
    func journalLines() throws {
        let config = try writeTemporary("journal.toml", """
            [gateway]
            state_dir = "\(try temporaryStateDirectory())"
            [[input.file]]
            name = "missing.sensor"
            path = "/nonexistent/outpost-sensor"
            interval = "100ms"
            """)
        let errors = Pipe()
        let process = try OutpostProcess.start(config: config, logLevel: "info", environment: ["JOURNAL_STREAM": "8:1234"],
                                               errors: errors)
        defer { kill(process.processIdentifier, SIGKILL) }
        var text = ""
        while !(text.contains("<6>") && text.contains("<4>")) {
            let chunk = errors.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let lines = text.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("<6>") }, "info")
        #expect(lines.contains { $0.hasPrefix("<4>") && $0.contains("/nonexistent/outpost-sensor") }, "warning")
        #expect(lines.allSatisfy { $0.hasPrefix("<") }, "\(lines)")
    }

    @Test("the environment decides: no socket, no notifier; WATCHDOG_PID for another process, no watchdog")
    func environment() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative"]) == nil)
        let ours = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@abstract", "WATCHDOG_USEC": "20000000",
                                                 "WATCHDOG_PID": String(getpid())])
        #expect(ours?.watchdogInterval == .seconds(10))
        let other = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "20000000",
                                                  "WATCHDOG_PID": "1"])
        #expect(other != nil && other?.watchdogInterval == nil)
    }
}
