import Foundation
import OutpostCore
import OutpostTestSupport
import Synchronization
import Testing

@testable import OutpostInputs

/// Commands that hang after closing their output, and reads the kernel never returns from (a FIFO with no writer
/// stands in for a sysfs file of a hung I2C or 1-Wire device: `open` blocks until someone writes).
@Suite("Hung commands and reads stop nothing else")
struct HungCallTests {
    func settings<Kind: InputKind>(_ kind: Kind.Type, _ entries: [(String, ConfigValue)]) throws -> any InputSettings {
        let diagnostics = ConfigDiagnostics(file: "test.toml")
        let settings = Kind.read(reader(entries, diagnostics: diagnostics), context: context())
        #expect(diagnostics.errors.isEmpty, "\(diagnostics.errors)")
        return try #require(settings)
    }

    func exec(_ name: String, _ command: String, timeout: String = "5s") throws -> ExecReader {
        let settings = try settings(ExecInput.self, [("name", .string(name)), ("command", .string(command)),
                                                     ("timeout", .string(timeout)), ("interval", .string("1s"))])
        return ExecReader(configuration: try #require(settings as? ExecInputConfiguration))
    }

    func poller(_ settings: any InputSettings, clock: ManualClock, wall: ManualWallClock) throws -> Poller {
        let input = try settings.makeInput(InputResources(clock: clock, wallClock: wall))
        return try #require(input as? any Pollable).makePoller()
    }

    func pid(in file: String) -> Int32? {
        (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    @Test("a command that sends its output away and then hangs is killed at its timeout, and reaped")
    func closedOutputStillTimesOut() async throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pidFile = folder.appendingPathComponent("pid").path
        let reader = try exec("k.lingers", "echo $$ > \(pidFile); exec >/dev/null 2>&1; exec sleep 1000",
                              timeout: "300ms")
        let readings = try await within(.seconds(60), "the killed command's answer") {
            var reader = reader
            return await reader.read(now: 1)
        }
        let fault = try #require(readings.events.first)
        #expect(fault.name == .sensorFault)
        #expect(fault.message.contains("k.lingers: command failed: timed out after 0.3 seconds and was killed"),
                "\(fault.message)")
        let commandPID = try #require(pid(in: pidFile))
        try await poll("the killed command reaped") { kill(commandPID, 0) != 0 }
    }

    @Test("a stop does not wait for a running command: the cancelled read returns at once and the command is killed")
    func cancelledReadKillsItsCommand() async throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pidFile = folder.appendingPathComponent("pid").path
        let reader = try exec("k.long", "echo $$ > \(pidFile); exec sleep 1000", timeout: "1h")
        let task = Task {
            var reader = reader
            return await reader.read(now: 1)
        }
        try await poll("the command started") { pid(in: pidFile) != nil }
        task.cancel()
        // The command would sleep 1000 s and its timeout is an hour: only the cancellation can end the read.
        #expect(try await within(.seconds(60), "the cancelled read") { await task.value }.isEmpty)
        let commandPID = try #require(pid(in: pidFile))
        try await poll("the cancelled command killed and reaped") { kill(commandPID, 0) != 0 }
    }

    @Test("two hung commands and a read that never returns: every other input of the group is read on every tick")
    func pollGroupKeepsReading() async throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("hung").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let temperature = folder.appendingPathComponent("temp").path
        try "21500\n".write(toFile: temperature, atomically: true, encoding: .utf8)
        let clock = ManualClock(), wall = ManualWallClock(start: 1_800_000_000_000_000_000)
        let pool = BlockingPool(threads: 2, name: "test-io")
        func member(_ index: Int, _ label: String, _ settings: any InputSettings) throws -> PollGroup.Member {
            PollGroup.Member(input: index, label: label, poller: try poller(settings, clock: clock, wall: wall))
        }
        let hung = "exec >/dev/null 2>&1; sleep 1000"
        let members = [
            try member(0, "exec k.lingers_a", settings(ExecInput.self, [("name", .string("k.lingers_a")),
                ("command", .string(hung)), ("timeout", .string("300ms")), ("interval", .string("1s"))])),
            try member(1, "exec k.lingers_b", settings(ExecInput.self, [("name", .string("k.lingers_b")),
                ("command", .string(hung)), ("timeout", .string("300ms")), ("interval", .string("1s"))])),
            try member(2, "exec k.echo", settings(ExecInput.self, [("name", .string("k.echo")),
                ("command", .string("echo 21.5")), ("interval", .string("1s"))])),
            try member(3, "file k.file", settings(FileInput.self, [("name", .string("k.file")),
                ("path", .string(temperature)), ("scale", .double(0.001)), ("interval", .string("1s"))])),
            try member(4, "file k.hung", settings(FileInput.self, [("name", .string("k.hung")),
                ("path", .string(fifo)), ("timeout", .string("300ms")), ("interval", .string("1s"))])),
            try member(5, "simulated k.sim", settings(SimulatedInput.self, [("name", .string("k.sim")),
                ("interval", .string("1s"))])),
        ]
        let sink = BatchCollector()
        let group = PollGroup(interval: .seconds(1), members: members, sink: sink, gate: nil, clock: clock,
                              wallClock: wall, logger: quietLogger, pool: pool)
        let running = Task { try await group.run() }
        for tick in 1...3 {
            try await waitUntil("tick \(tick) of k.echo, k.file and k.sim") {
                [2, 3, 5].allSatisfy { sink.samples(of: $0) == tick }
            }
            try await clock.waitForSleepers(1)
            clock.advance(by: .seconds(1))
        }
        try await waitUntil("the faults") { sink.events(of: 0).count == 1 && sink.events(of: 4).count == 1 }
        #expect(sink.events(of: 0).first?.message.contains("timed out after 0.3 seconds and was killed") == true)
        #expect(sink.events(of: 1).count == 1)
        let overrun = try #require(sink.events(of: 4).first)
        #expect(overrun.message.contains("file k.hung: reading \(fifo) did not return within 0.3 seconds"),
                "\(overrun.message)")
        #expect(sink.samples(of: 4) == 0)
        #expect(pool.threadsLeftBehind == 1, "the stuck read holds one thread, left behind and replaced")

        running.cancel()
        // Neither the hung commands nor the read still stuck in the FIFO hold the stop.
        _ = try await within(.seconds(60), "the poll group to stop") { await running.result }

        // Let the stuck read return: its thread ends, and the pool is back to its size.
        let writer = open(fifo, O_WRONLY | O_NONBLOCK)
        #expect(writer >= 0)
        close(writer)
        try await waitUntil("the stuck thread to end") { pool.threadsLeftBehind == 0 }
    }
}

/// The value of `body`, or a `TimeoutError` naming `what` when it has not come after `limit`: for work that must end
/// on its own (a killed command, a cancelled read), where waiting for ever would hide the failure.
func within<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async -> T) async throws -> T {
    let (stream, continuation) = AsyncStream<T>.makeStream()
    // Unstructured, so a body that never ends cannot hold the wait (a task group would wait for it).
    Task {
        continuation.yield(await body())
        continuation.finish()
    }
    return try await nextElement(of: stream, timeout: limit, what: what)
}

/// Records what a poll group hands over.
final class BatchCollector: ReadingBatchSink {
    private let entries = Mutex<[InputReadings]>([])

    func accept(_ batch: [InputReadings]) async {
        entries.withLock { $0 += batch }
    }

    func samples(of input: Int) -> Int {
        entries.withLock { $0.filter { $0.input == input }.flatMap(\.readings).samples.count }
    }

    func events(of input: Int) -> [Event] {
        entries.withLock { $0.filter { $0.input == input }.flatMap(\.readings).events }
    }
}
