import Foundation
import OutpostTestSupport
import Testing

/// A running `outpost run` whose log (stderr, info level) goes to a file the test reads.
/// `@unchecked Sendable`: its properties are set once in `init`; `Process` guards its own state.
final class ObservedOutpost: @unchecked Sendable {
    let process: Process
    let logFile: URL

    init(config: URL, logLevel: String = "info") throws {
        logFile = config.deletingLastPathComponent().appendingPathComponent("outpost.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process = Process()
        process.executableURL = OutpostProcess.binary
        process.arguments = ["run", "--config", config.path, "--log-level", logLevel]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: logFile)
        try process.run()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Waits until the log holds `text` `count` times.
    func waitFor(_ text: String, count: Int = 1, timeout: Duration = .seconds(120)) async throws {
        try await settle("`\(text)` in the log (\(count)x)", timeout: timeout) {
            self.log.components(separatedBy: text).count - 1 >= count
        }
    }

    func occurrences(_ text: String) -> Int { log.components(separatedBy: text).count - 1 }

    func hangUp() {
        kill(process.processIdentifier, SIGHUP)
    }

    /// SIGTERM and the exit status.
    func stop() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Runs a blocking call (a child process, a file, a socket) on a thread of its own: the system tests share the test
/// process's cooperative pool (two threads on a 2-core machine) with in-process tests whose timing depends on it.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// `poll` whose checks block (they run `curl`, `outpost spool stats`, read files): each check runs off the pool.
func settle(_ what: String, timeout: Duration = .seconds(120), _ condition: @escaping @Sendable () throws -> Bool)
    async throws
{
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while try await !offPool(condition) {
        guard clock.now < deadline else { throw TimeoutError(what: what) }
        try await clock.sleep(for: .milliseconds(50))
    }
}

/// The configuration's JSON status file, once written.
func statusJSON(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
}

/// The status file's JSON, or nothing while it is not written yet (for polls).
func statusOrEmpty(_ path: String) -> [String: Any] {
    (try? statusJSON(path)) ?? [:]
}

/// Log records of every logs request the receiver decoded, with their event name.
func eventNames(_ received: [[String: Any]]) -> [String] {
    received.filter { $0["path"] as? String == "/v1/logs" }.flatMap { request -> [String] in
        let resources = (request["request"] as? [String: Any])?["resource_logs"] as? [[String: Any]] ?? []
        return resources.flatMap { ($0["scope_logs"] as? [[String: Any]]) ?? [] }
            .flatMap { ($0["log_records"] as? [[String: Any]]) ?? [] }
            .compactMap { $0["event_name"] as? String }
    }
}

@Suite("Reload: SIGHUP and systemctl reload apply a config without a restart", .serialized)
struct ReloadTests {
    /// 4 simulated sensors at 5 Hz, no uplink: everything lands in the spool (case d-04's setup).
    func simulated(state: String, sensors: Int = 4, extra: String = "") -> String {
        var text = """
            [gateway]
            id = "h"
            state_dir = "\(state)"
            [log]
            readings_interval = "0s"
            [status]
            interval = "1s"
            self_metrics_interval = "0s"
            [detect]
            enabled = false

            """
        for index in 1...sensors { text += "[[input.simulated]]\nname = \"h.s\(index)\"\ninterval = \"200ms\"\n" }
        return text + extra
    }

    @Test("SIGHUP never ends Outpost: an unchanged file changes nothing, a broken one is refused with its errors, and at stop every sample read is in the spool (case d-04)")
    func hangUpKeepsRunning() async throws {
        let state = try temporaryStateDirectory()
        let config = try writeTemporary("c.toml", simulated(state: state))
        let outpost = try ObservedOutpost(config: config)
        try await outpost.waitFor("input started: simulated h.s4")
        outpost.hangUp()
        try await outpost.waitFor("reload: the configuration is unchanged")
        try (simulated(state: state) + "[[input.simulated]]\nname = \"h.s5\"\nintervall = \"1s\"\n")
            .write(to: config, atomically: true, encoding: .utf8)
        outpost.hangUp()
        try await outpost.waitFor("reload refused, the running configuration is kept")
        #expect(outpost.log.contains("unknown key `intervall`; did you mean `interval`?"))
        #expect(outpost.process.isRunning)
        let before = try statusJSON(state + "/status.json")["samples_ingested"] as? Int ?? 0
        try await settle("samples still flowing") {
            (statusOrEmpty(state + "/status.json")["samples_ingested"] as? Int ?? 0) > before
        }
        #expect(outpost.stop() == 0)
        #expect(outpost.log.contains("outpost stopped"))
        let final = try statusJSON(state + "/status.json")
        #expect(final["state"] as? String == "stopped")
        let read = final["samples_ingested"] as? Int ?? 0
        // The file on disk is the broken one: the spool is named directly.
        let (_, stats, _) = try OutpostProcess.run(["spool", "stats", "--spool", state + "/spool.db"])
        let items = stats.split(separator: "\n").first { $0.hasPrefix("metrics") }
            .flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first }
            .flatMap { Int($0) } ?? -1
        #expect(read > 0 && items == read, "every sample read is in the spool: \(read) read, \(items) stored\n\(stats)")
    }

    @Test("`outpost check` tells whether a reload would apply: against the Outpost running on the file, nothing to change, a change to apply, or a file it would refuse")
    func checkTellsReload() async throws {
        let state = try temporaryStateDirectory()
        let config = try writeTemporary("c.toml", simulated(state: state, sensors: 1))
        let outpost = try ObservedOutpost(config: config)
        let pid = outpost.process.processIdentifier
        try await settle("the status file of this process") {
            statusOrEmpty(state + "/status.json")["pid"] as? Int == Int(pid)
        }
        let (_, same, _) = try OutpostProcess.run(["check", "--config", config.path])
        #expect(same.contains("reload: Outpost (pid \(pid)) already runs this version of the file"), "\(same)")
        try simulated(state: state, sensors: 2).write(to: config, atomically: true, encoding: .utf8)
        let (_, changed, _) = try OutpostProcess.run(["check", "--config", config.path])
        #expect(changed.contains("reload: Outpost (pid \(pid)) runs another version of this file; a reload "
            + "(kill -HUP \(pid), or systemctl reload outpost) would apply it"), "\(changed)")
        try "[[input.simulated]]\nname = 1\n".write(to: config, atomically: true, encoding: .utf8)
        let (status, _, refused) = try OutpostProcess.run(["check", "--config", config.path])
        #expect(status != 0 && refused.contains("would refuse this file and keep the running configuration"))
        #expect(outpost.stop() == 0)
    }

    /// 600 rows one second apart: calm around 20, a level shift to 30 from row 100 (an episode that stays open),
    /// and a spike to 60 at rows 500-502. The spike raises again only if the series lost its state.
    func recording() -> String {
        var lines = ["timestamp,value"]
        for row in 0..<600 {
            let base = row >= 100 ? 30.0 : 20.0
            let value = (500..<503).contains(row) ? 60.0 : base + Double(row % 5) * 0.1
            lines.append("\(1_772_366_400 + row),\(value)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func underLoad(state: String, csv: String, port: Int, extraInput: Bool) -> String {
        var text = """
            [gateway]
            id = "load"
            state_dir = "\(state)"
            [log]
            readings_interval = "0s"
            [status]
            interval = "1s"
            self_metrics_interval = "0s"
            [batch]
            max_age = "300ms"
            [detect]
            warmup = 20
            sigma = 6
            level_shift_after = "1h"
            [[input.replay]]
            path = "\(csv)"
            name = "tank.level"
            speed = 20.0
            [[uplink.otlp_http]]
            name = "collector"
            endpoint = "http://127.0.0.1:\(port)"
            initial_backoff = "100ms"
            max_backoff = "300ms"
            drain_rate = 50.0

            """
        if extraInput {
            text += "[[input.simulated]]\nname = \"extra.level\"\nsignal = \"constant\"\nnoise = 0.0\ninterval = \"500ms\"\n"
        }
        return text
    }

    @Test("reload under load (a backlog in the spool, the uplink mid-outage, a series mid-episode): a bad config is refused, a new input starts alone, a changed uplink restarts alone; nothing is lost or sent twice and the episode is not raised again")
    func reloadUnderLoad() async throws {
        let state = try temporaryStateDirectory()
        let csv = try writeTemporary("tank.csv", recording())
        let down = freeLoopbackPort()
        let server = try OTLPServer()
        let config = try writeTemporary("load.toml", underLoad(state: state, csv: csv.path, port: down, extraInput: false))
        let outpost = try ObservedOutpost(config: config)

        // The receiver is unreachable: batches wait in the spool; the level shift at row 100 opens an episode.
        try await outpost.waitFor("anomaly.raised")
        try await settle("a backlog in the spool") { try OutpostProcess.spooledBatches(config, lane: "metrics") >= 3 }

        // (a) A config that does not check: refused, nothing restarts.
        try "[[input.replay]]\npath = 3\n".write(to: config, atomically: true, encoding: .utf8)
        outpost.hangUp()
        try await outpost.waitFor("reload refused")

        // (b) One new input: it starts; the replay and the uplink keep running; the series keeps its state.
        try underLoad(state: state, csv: csv.path, port: down, extraInput: true)
            .write(to: config, atomically: true, encoding: .utf8)
        outpost.hangUp()
        try await outpost.waitFor("reloaded \(config.path): inputs added: simulated extra.level")
        try await outpost.waitFor("series restarted=0")

        // (c) The uplink changes to the receiver that is up: it alone restarts, and drains the backlog there.
        let changed = underLoad(state: state, csv: csv.path, port: server.port, extraInput: true)
        try changed.write(to: config, atomically: true, encoding: .utf8)
        outpost.hangUp()
        try await outpost.waitFor("reloaded \(config.path): uplinks restarted: collector")
        #expect(outpost.occurrences("pipeline restarted") == 0)
        #expect(outpost.occurrences("input stopped") == 0, "no input restarted:\n\(outpost.log)")
        #expect(outpost.occurrences("uplink stopped: collector") == 1)
        #expect(outpost.occurrences("input started: replay tank.level") == 1)
        #expect(outpost.occurrences("input started: simulated extra.level") == 1)

        try await settle("every row at the receiver", timeout: .seconds(120)) {
            Set(pointTimestamps(try server.received().compactMap { $0["request"] as? [String: Any] },
                                metric: "tank.level")).count >= 600
        }
        #expect(outpost.stop() == 0)
        let received = try server.received()
        let points = pointTimestamps(received.compactMap { $0["request"] as? [String: Any] }, metric: "tank.level")
        #expect(Set(points).count == 600, "every row arrived")
        #expect(points.count == 600, "none twice")
        let raised = eventNames(received).filter { $0 == "outpost.anomaly.raised" }
        #expect(raised.count == 1, "one episode, raised once, though the spike came after three reloads")
    }
}
