import Foundation
import OutpostTestSupport
import Synchronization
import Testing

/// An `outpost run` whose standard output (alerts) and standard error (the log) go to files the test reads.
struct LoggedOutpost {
    let process: Process
    let stdout: URL
    let stderr: URL

    init(config: URL, logLevel: String = "info") throws {
        let folder = config.deletingLastPathComponent()
        stdout = folder.appendingPathComponent("stdout")
        stderr = folder.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process = Process()
        process.executableURL = OutpostProcess.binary
        process.arguments = ["run", "--config", config.path, "--log-level", logLevel]
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
    }

    var output: String { (try? String(contentsOf: stdout, encoding: .utf8)) ?? "" }
    var log: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

@Suite("Modbus end to end: the outpost binary and a real Modbus server", .serialized)
struct ModbusEndToEndTests {
    /// The README's worked example (the TOML block after `<!-- modbus-example`), pointed at the test server.
    func readmeExample(port: Int, stateDirectory: String) throws -> String {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let afterMarker = try #require(readme.components(separatedBy: "<!-- modbus-example").dropFirst().first)
        let block = try #require(afterMarker.components(separatedBy: "```toml\n").dropFirst().first?
            .components(separatedBy: "```").first)
        let hostLine = try #require(block.split(separator: "\n").first { $0.hasPrefix("host = ") })
        return block
            .replacingOccurrences(of: String(hostLine), with: "host = \"127.0.0.1\"\nport = \(port)")
            .replacingOccurrences(of: "[gateway]\n", with: "[gateway]\nstate_dir = \"\(stateDirectory)\"\n")
    }

    @Test("the README's energy meter by preset: its values in the log, and an alert on its threshold")
    func readmeEnergyMeter() async throws {
        let server = try ModbusTestServer()
        let config = try writeTemporary("meter.toml", try readmeExample(port: server.port,
                                                                         stateDirectory: try temporaryStateDirectory()))
        let (status, checked, _) = try OutpostProcess.run(["check", "--config", config.path])
        #expect(status == 0)
        #expect(checked.contains("[modbus] pumphouse.meter, every 10s"), "\(checked)")
        let outpost = try LoggedOutpost(config: config)
        defer { outpost.stop() }
        try await poll("the threshold alert on stdout") {
            outpost.output.contains(#""event":"outpost.threshold.crossed""#)
        }
        let alert = try #require(outpost.output.split(separator: "\n").first { $0.contains("threshold.crossed") })
        let document = try #require(try JSONSerialization.jsonObject(with: Data(alert.utf8)) as? [String: Any])
        #expect(document["series"] as? String == "pumphouse.meter.power.active")
        #expect(document["unit"] as? String == "W")
        #expect(document["value"] as? Double == 3266.4)
        #expect((document["details"] as? [String: Any])?["rule"] as? String == "pump house overload")
        try await poll("the readings line", timeout: .seconds(40)) { outpost.log.contains("readings: ") }
        let readings = try #require(outpost.log.split(separator: "\n").first { $0.contains("readings: ") })
        #expect(readings.contains("pumphouse.meter.current=14.2 A"), "\(readings)")
        #expect(readings.contains("pumphouse.meter.power.active=3266.4 W"), "\(readings)")
        #expect(readings.contains("pumphouse.meter.energy.active.import=1234.5 kW.h"), "\(readings)")
        #expect(!outpost.log.contains("stopped answering"))
        _ = server
    }

    @Test("every type and order travels the whole pipeline to an OTLP receiver, with the health series")
    func wholePipeline() async throws {
        let modbus = try ModbusTestServer()
        let receiver = try OTLPServer()
        let expected: [(String, String, Double)] = [
            ("u16", "address = 0", 51234), ("i16", "address = 1\ntype = \"int16\"", -1234),
            ("u32", "address = 2\ntype = \"uint32\"", 3_000_000_000),
            ("i32", "address = 4\ntype = \"int32\"\norder = \"CDAB\"", -123_456_789),
            ("f32.abcd", "address = 6\ntype = \"float32\"", 21.5),
            ("f32.cdab", "address = 8\ntype = \"float32\"\norder = \"CDAB\"", -3.25),
            ("f32.badc", "address = 10\ntype = \"float32\"\norder = \"BADC\"", 1013.25),
            ("f32.dcba", "address = 12\ntype = \"float32\"\norder = \"DCBA\"", 0.125),
            ("i64", "address = 14\ntype = \"int64\"", -9_000_000_000),
            ("u64", "address = 18\ntype = \"uint64\"\norder = \"DCBA\"", 12_345_678_901),
            ("f64.abcd", "address = 22\ntype = \"float64\"", 2.718281828),
            ("f64.cdab", "address = 26\ntype = \"float64\"\norder = \"CDAB\"", -1234.5678),
            ("f64.badc", "address = 30\ntype = \"float64\"\norder = \"BADC\"", 6.02e23),
            ("f64.dcba", "address = 34\ntype = \"float64\"\norder = \"DCBA\"", -0.001),
            ("bit5", "address = 38\ntype = \"bool\"\nbit = 5", 1),
            ("i16.badc", "address = 40\ntype = \"int16\"\norder = \"BADC\"", -2),
            ("coil2", "table = \"coil\"\naddress = 2", 1), ("di1", "table = \"discrete\"\naddress = 1", 1),
            ("volts", "table = \"input\"\naddress = 0\ntype = \"float32\"\nscale = 2\noffset = 1",
             230.1 * 2 + 1),
        ]
        let registers = expected.map { "[[input.modbus.registers]]\nname = \"\($0.0)\"\n\($0.1)" }
            .joined(separator: "\n")
        let config = try writeTemporary("pipeline.toml", """
            [gateway]
            state_dir = "\(try temporaryStateDirectory())"
            [batch]
            max_age = "1s"
            [[uplink.otlp_http]]
            endpoint = "\(receiver.endpoint)"
            [[input.modbus]]
            name = "plc"
            host = "127.0.0.1"
            port = \(modbus.port)
            interval = "500ms"
            \(registers)
            """)
        let outpost = try LoggedOutpost(config: config, logLevel: "warning")
        defer { outpost.stop() }
        var values: [String: Double] = [:]
        try await poll("every value at the receiver") {
            values = try Self.metricValues(receiver.received())
            return expected.allSatisfy { values["plc.\($0.0)"] != nil } && values["plc.modbus.errors"] != nil
        }
        // Within a part in 10^12: Foundation's JSON reader may land one unit in the last place off.
        for (name, _, value) in expected {
            #expect(abs((values["plc.\(name)"] ?? .nan) - value) <= abs(value) * 1e-12, "\(name)")
        }
        #expect(values["plc.modbus.errors"] == 0)
        #expect((values["plc.modbus.response_time"] ?? 0) > 0)
        #expect(!outpost.log.contains("plc ("), "no problem with the device: \(outpost.log)")
        _ = modbus
    }

    /// The last value of each metric (gauge or sum) in the decoded OTLP requests.
    static func metricValues(_ received: [[String: Any]]) -> [String: Double] {
        var values: [String: Double] = [:]
        for request in received where request["path"] as? String == "/v1/metrics" {
            let body = request["request"] as? [String: Any]
            for resource in body?["resource_metrics"] as? [[String: Any]] ?? [] {
                for scope in resource["scope_metrics"] as? [[String: Any]] ?? [] {
                    for metric in scope["metrics"] as? [[String: Any]] ?? [] {
                        let data = (metric["gauge"] ?? metric["sum"]) as? [String: Any]
                        let points = data?["data_points"] as? [[String: Any]] ?? []
                        // Protobuf's JSON mapping leaves a 0.0 out.
                        if let name = metric["name"] as? String, let point = points.last {
                            values[name] = point["as_double"] as? Double ?? 0
                        }
                    }
                }
            }
        }
        return values
    }
}
