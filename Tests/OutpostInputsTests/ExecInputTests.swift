import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostInputs

@Suite("Exec input")
struct ExecInputTests {
    func execReader(_ entries: [(String, ConfigValue)]) throws -> ExecReader {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        let configuration = ExecInputConfiguration.read(reader(entries, diagnostics: diagnostics))
        #expect(diagnostics.errors.isEmpty, "\(diagnostics.errors)")
        return ExecReader(configuration: try #require(configuration))
    }

    func argv(_ words: String...) -> ConfigValue {
        .array(words.map { ConfigNode(value: .string($0), path: ConfigPath(), location: nil) })
    }

    @Test("a plain number from a command run directly (vcgencmd style)")
    func plainNumber() async throws {
        var exec = try execReader([("name", .string("soc.temp")), ("command", argv("echo", "temp=48.3'C"))])
        #expect(await exec.read(now: 1).value("soc.temp") == 48.3)
    }

    @Test("key=value lines become one series per key, with per-field units")
    func keyValue() async throws {
        var exec = try execReader([
            ("name", .string("ups")), ("format", .string("key_value")),
            ("command", .string("printf 'battery=87\\nload=12.5\\nstatus=OL\\n'")),
            ("units", .table(ConfigTable(entries: [(key: "battery", node: ConfigNode(value: .string("%"),
                                                                                     path: ConfigPath(), location: nil))]))),
        ])
        let readings = await exec.read(now: 1)
        #expect(readings.value("ups.battery") == 87)
        #expect(readings.value("ups.load") == 12.5)
        #expect(readings.samples.count == 2, "non-numeric values are ignored")
        #expect(readings.samples.first { $0.series.name == "ups.battery" }?.series.unit == "%")
    }

    @Test("JSON fields by dotted path; a missing field is reported while the others still arrive")
    func json() async throws {
        var exec = try execReader([
            ("name", .string("bme")), ("format", .string("json")),
            ("command", .string(#"echo '{"sensor":{"temp":21.5,"rh":"40.2"},"ok":true}'"#)),
            ("fields", .array(["sensor.temp", "sensor.rh", "sensor.pressure"].map {
                ConfigNode(value: .string($0), path: ConfigPath(), location: nil)
            })),
        ])
        let readings = await exec.read(now: 1)
        #expect(readings.value("bme.sensor.temp") == 21.5)
        #expect(readings.value("bme.sensor.rh") == 40.2)
        #expect(readings.problems.contains { $0.contains("sensor.pressure") })
    }

    @Test("a command that outlives its timeout is killed, with its children, and reported once")
    func timeout() async throws {
        // A sleep no other test runs, to find it in /proc: a command left running would also answer `1` in 30 s.
        let marker = "30.\(Int.random(in: 100_000...999_999))"
        var exec = try execReader([("name", .string("slow")), ("command", .string("sleep \(marker) | cat; echo 1")),
                                   ("timeout", .string("200ms"))])
        let readings = await exec.read(now: 1)
        #expect(readings.samples.isEmpty, "the command was stopped before it could answer")
        try await OutpostTestSupport.poll("the pipeline's sleep, a child of the command's shell, killed with it") {
            !Self.processRunning(withArgument: marker)
        }
        let event = try #require(readings.events.first)
        #expect(event.name == .sensorFault)
        #expect(event.message.contains("timed out"))
        #expect(await exec.read(now: 2).events.isEmpty, "the same failure is not repeated")
    }

    static func processRunning(withArgument argument: String) -> Bool {
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return processes.contains { pid in
            guard pid.allSatisfy(\.isNumber),
                  let line = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let arguments = line.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?
                .split(separator: ")").last?.split(separator: " ").first
            return arguments.contains(argument) && state != "Z"
        }
    }

    @Test("non-zero exit and a missing program are faults carrying the reason", arguments: [
        ("echo broken >&2; exit 3", "exited with status 3: broken"), ("/nonexistent/tool", "status 127"),
    ])
    func failures(command: String, reason: String) async throws {
        var exec = try execReader([("name", .string("x")), ("command", .string(command))])
        let message = try #require(await exec.read(now: 1).events.first?.message)
        #expect(message.contains(reason), "\(message)")
    }

    @Test("a program that cannot be started directly is a launch fault")
    func launchFailure() async throws {
        var exec = try execReader([("name", .string("x")), ("command", argv("/nonexistent/tool"))])
        #expect(await exec.read(now: 1).events.first?.message.contains("cannot start") == true)
    }
}

@Suite("JSON parsing")
struct JSONValueTests {
    @Test("nested values, escapes and paths")
    func parses() throws {
        let value = try JSONValue.parse(#"{"a":{"b":[1,2.5,{"c":"x\"y"}]},"t":true,"n":null,"u":"\u00e9"}"#)
        #expect(value.value(atPath: "a.b.1") == .number(2.5))
        #expect(value.value(atPath: "a.b.2.c") == .string("x\"y"))
        #expect(value.value(atPath: "u") == .string("é"))
        #expect(value.value(atPath: "t")?.numericValue == 1)
        #expect(value.value(atPath: "a.missing") == nil)
    }

    @Test("hostile input fails cleanly", arguments: [
        String(repeating: "[", count: 10_000), "{\"a\":", "[1,]", "tru", "\"unterminated", "{} extra", "",
    ])
    func rejects(text: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(text) }
    }

    @Test("random bytes never crash the parser")
    func fuzz() {
        var generator = SeededGenerator(seed: 99)
        let alphabet = Array("{}[]\",:0123456789.eE-+tfnul \\abc".utf8)
        for _ in 0..<5000 {
            let length = Int(generator.next() % 64)
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            _ = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self))
        }
    }
}
