import Foundation
import OutpostCore
@testable import OutpostInputs
import OutpostTestSupport
import Testing

/// RTU over a pseudo-terminal pair (socat) with a pymodbus serial server on the other end. A pty ignores the baud
/// rate and refuses parity settings, so the line runs 19200 8N1.
@Suite("Modbus RTU on a serial line (socat pty pair, pymodbus serial server)", .serialized)
struct ModbusRTUTests {
    func line(_ pair: SerialPair) -> ModbusEndpoint {
        .rtu(ModbusSerialLine(device: pair.outpostEnd, baud: 19200, parity: .none))
    }

    @Test("values of every type arrive over RTU as the server encoded them")
    func values() async throws {
        let pair = try SerialPair()
        let server = try ModbusTestServer(rtu: pair.serverEnd, parity: "N")
        let recorder = ReadingRecorder()
        let registers = testMapRegisters()
        let task = start(modbusDevice(endpoint: line(pair), registers: registers), into: recorder)
        defer { task.cancel() }
        try await recorder.wait("every value") { readings in
            registers.allSatisfy { readings.value("dev.\($0.name)") != nil }
        }
        for (name, _, _, _, _, expected) in testMapValues {
            #expect(recorder.readings.value("dev.\(name)") == expected, "\(name)")
        }
        _ = server
    }

    @Test("two units on one bus, one silent: the other keeps its interval, the silent one is stale once")
    func silentUnit() async throws {
        let pair = try SerialPair()
        let server = try ModbusTestServer(rtu: pair.serverEnd, parity: "N", units: [1])
        let recorder = ReadingRecorder()
        let interval = Duration.milliseconds(800)
        // The silent unit's map costs ten requests (values far apart). It must cost one 150 ms timeout per poll,
        // not ten (1.5 s), or the bus could not fit the other unit's 800 ms interval.
        let silentRegisters = (0..<10).map { ModbusRegister(name: "r\($0)", address: $0 * 100) }
        let alive = start(modbusDevice("alive", endpoint: line(pair), unit: 1,
                                       registers: [ModbusRegister(name: "air", address: 6, type: .float32)],
                                       interval: interval), into: recorder)
        let silent = start(modbusDevice("silent", endpoint: line(pair), unit: 2, registers: silentRegisters,
                                        interval: interval, timeout: .milliseconds(150), staleAfter: 3), into: recorder)
        defer {
            alive.cancel()
            silent.cancel()
        }
        try await recorder.wait("the silent unit stale and ten readings of the other") { readings in
            !readings.events(.deviceStale).isEmpty
                && readings.samples.filter { $0.series.name == "alive.air" }.count >= 10
        }
        let stale = recorder.readings.events(.deviceStale)
        #expect(stale.count == 1)
        #expect(stale.first?.message == "silent (rtu \(pair.outpostEnd) 19200 8N1 unit 2) stopped answering: "
            + "no answer within 150ms (3 polls in a row)")
        // One failed request per poll: the other nine were never sent.
        let errors = recorder.samples("silent.modbus.errors")
        #expect(errors.last?.value == Double(errors.count))
        let times = recorder.samples("alive.air").prefix(10).map(\.time)
        let span = Double(times.last! - times.first!) / 1e9
        // Nine intervals are 7.2 s; a bus held 1.5 s per silent poll would skip ticks and need 14 s or more.
        #expect(span < 7.2 * 1.5, "the live unit's ten readings spread over \(span) s")
        #expect(recorder.samples("silent.r0").isEmpty)
        #expect(recorder.readings.value("alive.air") == 21.5)
        _ = server
    }

    @Test("the adapter unplugged (the serial device vanishes) and plugged back: stale, then read again by itself")
    func replug() async throws {
        let pair = try SerialPair()
        var server = try ModbusTestServer(rtu: pair.serverEnd, parity: "N")
        let recorder = ReadingRecorder()
        let task = start(modbusDevice(endpoint: line(pair), registers: [ModbusRegister(name: "air", address: 6,
                                                                                          type: .float32)]),
                         into: recorder)
        defer { task.cancel() }
        try await recorder.wait("a first value") { $0.value("dev.air") != nil }
        server.stop()
        pair.unplug()
        try await recorder.wait("the device stale") { !$0.events(.deviceStale).isEmpty }
        let stale = try #require(recorder.readings.events(.deviceStale).first)
        #expect(stale.message.contains("\(pair.outpostEnd): No such file or directory; is the adapter plugged in?"),
                "\(stale.message)")
        try pair.plugIn()
        server = try ModbusTestServer(rtu: pair.serverEnd, parity: "N")
        let before = recorder.samples("dev.air").count
        try await recorder.wait("values after the replug") { readings in
            !readings.events(.deviceRecovered).isEmpty
                && readings.samples.filter { $0.series.name == "dev.air" }.count > before
        }
        _ = server
    }
}
