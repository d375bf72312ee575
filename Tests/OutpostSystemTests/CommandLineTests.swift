import Foundation
import OutpostTestSupport
import Testing

/// Runs the real `outpost` binary the way an operator does.
struct OutpostProcess {
    /// The `outpost` built beside this test binary (both live in the build folder's product directory).
    static var binary: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("outpost")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return repositoryRoot.appendingPathComponent(".build/debug/outpost")
    }

    /// Starts `outpost run --config config` in the background with `environment` added, its output discarded (or
    /// standard error into `errors`).
    static func start(config: URL, logLevel: String = "warning", environment: [String: String] = [:],
                      errors: Pipe? = nil) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["run", "--config", config.path, "--log-level", logLevel]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors ?? FileHandle.nullDevice
        try process.run()
        return process
    }

    /// How many batches `outpost spool stats` reports in `lane` (alerts, events, metrics).
    static func spooledBatches(_ config: URL, lane: String) throws -> Int {
        let (_, out, _) = try run(["spool", "stats", "--config", config.path])
        return out.split(separator: "\n").first { $0.hasPrefix(lane) }
            .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
    }

    /// Runs to completion and returns (status, stdout, stderr).
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self),
                String(decoding: errData, as: UTF8.self))
    }
}

func writeTemporary(_ name: String, _ text: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url
}

/// A recording: 300 s of a calm series around 20 with a 4-sample excursion to 30 at 200 s.
func spikeCSV() -> String {
    var generator = SplitMix(seed: 3)
    var lines = ["timestamp,value"]
    for second in 0..<300 {
        let value = (200..<204).contains(second) ? 30.0 : 20 + 0.3 * generator.gaussian()
        lines.append("\(1_772_366_400 + second),\(value)")
    }
    return lines.joined(separator: "\n") + "\n"
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func gaussian() -> Double {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-300), u2 = Double(next() >> 11) / Double(1 << 53)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
    }
}

@Suite("The outpost command")
struct CommandLineTests {
    @Test("`outpost check` on a config with a typo prints file:line:column and exits non-zero")
    func checkTypo() throws {
        let config = try writeTemporary("typo.toml", """
            [[input.simulated]]
            name = "a"
            intervall = "5s"
            """)
        let (status, out, err) = try OutpostProcess.run(["check", "--config", config.path])
        #expect(status != 0)
        #expect(out.isEmpty)
        #expect(err.contains("\(config.path):3:1: error[unknown-key]: input.simulated[#1].intervall: "
            + "unknown key `intervall`; did you mean `interval`?"), "\(err)")
    }

    @Test("`outpost check` on a valid config prints the resolved inputs and rules")
    func checkValid() throws {
        let (status, out, _) = try OutpostProcess.run(["check"])
        #expect(status == 0)
        #expect(out.contains("config: built-in default is valid"))
        #expect(out.contains("[simulated] demo.greenhouse.temperature, every 1s"))
        #expect(out.contains("threshold \"battery low\" on demo.*.battery: below 20.0"))
    }

    @Test("`outpost check` on a missing file says so")
    func checkMissing() throws {
        let (status, _, err) = try OutpostProcess.run(["check", "--config", "/nonexistent/outpost.toml"])
        #expect(status != 0)
        #expect(err.contains("cannot read /nonexistent/outpost.toml"))
    }

    @Test("`outpost replay` writes one JSON line per event and a per-series summary")
    func replay() throws {
        let csv = try writeTemporary("boiler.csv", spikeCSV())
        let output = csv.deletingLastPathComponent().appendingPathComponent("alerts.jsonl")
        let config = try writeTemporary("replay.toml", """
            [detect]
            warmup = 60
            sigma = 4
            quiet_period = "5s"

            [[input.replay]]
            path = "\(csv.path)"
            name = "boiler.temperature"
            unit = "Cel"
            """)
        let (status, out, err) = try OutpostProcess.run(["replay", "--config", config.path, "--input", csv.path,
                                                         "--output", output.path])
        #expect(status == 0, "\(err)")
        let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
        let events = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(events.map { $0["event"] as? String } == ["outpost.anomaly.raised", "outpost.anomaly.resolved"])
        #expect(events.first?["series"] as? String == "boiler.temperature")
        #expect(events.first?["time"] as? String == "2026-03-01T12:03:20.000Z")
        #expect(events.first?["value"] as? Double == 30)
        #expect(out.contains("boiler.temperature"))
        #expect(out.contains(" 300 "), "300 rows in the summary: \(out)")
    }

    @Test("`outpost replay --config` takes a file holding only [detect]: --input supplies the data")
    func replayWithTuningOnly() throws {
        let csv = try writeTemporary("tank.csv", spikeCSV())
        let config = try writeTemporary("tuning.toml", """
            [detect]
            warmup = 60
            sigma = 4
            quiet_period = "5s"
            """)
        let (status, out, err) = try OutpostProcess.run(["replay", "--config", config.path, "--input", csv.path])
        #expect(status == 0, "\(err)")
        #expect(!err.contains("no inputs are configured"))
        #expect(out.contains("outpost.anomaly.raised"), "the tuned detector still finds the spike")
        // `run` still wants an input: a config without one would run nothing.
        let (runStatus, _, runError) = try OutpostProcess.run(["check", "--config", config.path])
        #expect(runStatus != 0)
        #expect(runError.contains("no inputs are configured"))
    }

    @Test("`outpost replay --plot` draws a panel with band, episode, time ticks and a score lane; `--labels` scores it")
    func replayPlotAndLabels() throws {
        let csv = try writeTemporary("boiler.csv", spikeCSV())
        let folder = csv.deletingLastPathComponent()
        let plot = folder.appendingPathComponent("replay.html")
        // One window around the spike (12:03:20), one where nothing happens: precision 100 %, recall 50 %.
        let labels = try writeTemporary("labels.csv", """
            series,start,end,kind
            boiler,2026-03-01T12:03:15Z,2026-03-01T12:03:30Z,spike
            boiler,1772366500,1772366510,stuck
            """)
        let (status, out, err) = try OutpostProcess.run(["replay", "--input", csv.path, "--output",
                                                         folder.appendingPathComponent("alerts.jsonl").path,
                                                         "--plot", plot.path, "--labels", labels.path])
        #expect(status == 0, "\(err)")
        #expect(out.contains("labels: 1 of 1 episodes inside a labelled window (precision 100.0 %), "
            + "1 of 2 windows found (recall 50.0 %)"), "\(out)")
        let html = try String(contentsOf: plot, encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<svg"))
        #expect(html.contains(">boiler</text>"))
        #expect(html.contains("300 samples, 1 episodes"))
        #expect(html.contains("<polygon points="), "the band")
        #expect(html.contains("fill=\"#e53935\""), "the episode")
        #expect(html.contains(">12:02:00</text>"), "a tick every 30 s, labelled to the second")
        #expect(html.contains("−log₁₀ p</text>"), "the score lane")
        #expect(html.contains("stroke-dasharray=\"4 3\""), "the threshold in the lane")
        #expect(html.contains("const panels = [[70"), "the data the pointer reads")
    }

    @Test("`outpost replay --plot` wants an .svg or .html name")
    func replayPlotName() throws {
        let csv = try writeTemporary("boiler.csv", spikeCSV())
        let (status, _, err) = try OutpostProcess.run(["replay", "--input", csv.path, "--plot", "/tmp/plot.png"])
        #expect(status != 0)
        #expect(err.contains("name the file .svg or .html"), "\(err)")
    }

    @Test("`outpost run` prints alerts as JSON lines on stdout and stops cleanly on SIGTERM")
    func runAndStop() throws {
        let csv = try writeTemporary("tank.csv", spikeCSV())
        let state = csv.deletingLastPathComponent().appendingPathComponent("state").path
        let config = try writeTemporary("run.toml", """
            [gateway]
            state_dir = "\(state)"

            [detect]
            warmup = 60
            sigma = 4

            [[input.replay]]
            path = "\(csv.path)"
            name = "tank.level"
            """)
        let process = Process()
        process.executableURL = OutpostProcess.binary
        process.arguments = ["run", "--config", config.path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Wait for the first alert line: the replay's spike.
        var received = Data()
        while !received.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            received.append(chunk)
        }
        let line = String(decoding: received.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let alert = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(alert?["event"] as? String == "outpost.anomaly.raised")
        #expect(alert?["schema"] as? String == "outpost.alert.v1")
        process.terminate()
        process.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "\(log)")
        #expect(log.contains("outpost stopped"))
    }

    @Test("`outpost run` with an invalid config exits with status 78 (EX_CONFIG) and starts nothing")
    func runInvalid() throws {
        let config = try writeTemporary("bad.toml", "[detect]\nsigma = \"x\"\n")
        let (status, out, err) = try OutpostProcess.run(["run", "--config", config.path])
        #expect(status == 78)
        #expect(out.isEmpty)
        #expect(err.contains("bad.toml:2:1: error[wrong-type]"))
    }

    @Test("`outpost run` with a state directory it cannot create exits 78 at once, naming the path (no restart loop)")
    func runUnusableStateDirectory() throws {
        let blocker = try writeTemporary("not-a-folder", "x")
        let config = try writeTemporary("state.toml", """
            [gateway]
            state_dir = "\(blocker.path)/state"
            [[input.simulated]]
            name = "a.b"
            """)
        let (status, _, err) = try OutpostProcess.run(["run", "--config", config.path])
        #expect(status == 78)
        #expect(err.contains("cannot start") && err.contains(blocker.path), "\(err)")
    }

    @Test("`outpost version` prints the version")
    func version() throws {
        let (status, out, _) = try OutpostProcess.run(["version"])
        #expect(status == 0)
        #expect(out.hasPrefix("outpost 0."))
    }
}
