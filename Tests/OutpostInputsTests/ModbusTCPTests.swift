import Foundation
import OutpostCore
@testable import OutpostInputs
import OutpostTestSupport
import Synchronization
import Testing

@Suite("Modbus TCP against a real server (pymodbus)")
struct ModbusTCPTests {
    @Test("every type and order, coils, discrete inputs and input registers arrive as the server encoded them")
    func everyTypeAndOrder() async throws {
        let server = try ModbusTestServer(countRequests: true)
        var registers = testMapRegisters()
        registers += (0..<8).map { ModbusRegister(name: "coil\($0)", table: .coil, address: $0) }
        registers += (0..<4).map { ModbusRegister(name: "di\($0)", table: .discrete, address: $0) }
        registers.append(ModbusRegister(name: "volts", table: .input, address: 0, type: .float32, unit: "V"))
        let recorder = ReadingRecorder()
        let task = start(modbusDevice(endpoint: .tcp(host: "127.0.0.1", port: server.port), registers: registers),
                         into: recorder)
        defer { task.cancel() }
        try await recorder.wait("every value") { readings in
            registers.allSatisfy { readings.value("dev.\($0.name)") != nil }
        }
        for (name, _, _, _, _, expected) in testMapValues {
            #expect(recorder.readings.value("dev.\(name)") == expected, "\(name)")
        }
        let coils = (0..<8).map { recorder.readings.value("dev.coil\($0)") }
        #expect(coils == [1, 0, 1, 1, 0, 0, 0, 1])
        #expect((0..<4).map { recorder.readings.value("dev.di\($0)") } == [0, 1, 0, 1])
        #expect(recorder.readings.value("dev.volts") == 230.1)
        #expect(recorder.readings.samples.first { $0.series.name == "dev.volts" }?.series.unit == "V")
        // One read per table: holding 0–40, coils 0–7, discrete 0–3, input 0–1.
        try await poll("the server's request lines") { server.requests.count >= 4 }
        let firstPoll = server.requests.prefix(4)
        #expect(firstPoll.map { $0.split(separator: " ")[2] }.sorted() == ["1", "2", "3", "4"])
        #expect(recorder.readings.events.isEmpty, "\(recorder.readings.events.map(\.message))")
        #expect(recorder.readings.value("dev.modbus.errors") == 0)
        #expect((recorder.readings.value("dev.modbus.response_time") ?? -1) > 0)
    }

    @Test("preset = \"sdm120\" plus an address reads the meter's fourteen values in three requests")
    func sdm120Preset() async throws {
        let server = try ModbusTestServer(countRequests: true)
        let preset = try #require(ModbusPreset.named("sdm120"))
        let recorder = ReadingRecorder()
        let task = start(modbusDevice("meter", endpoint: .tcp(host: "127.0.0.1", port: server.port),
                                      registers: preset.registers), into: recorder)
        defer { task.cancel() }
        try await recorder.wait("the meter's values") { $0.value("meter.energy.reactive.total") != nil }
        let expected: [(String, Double)] = [
            ("voltage", 230.1), ("current", 14.2), ("power.active", 3266.4), ("power.apparent", 3290),
            ("power.reactive", 400), ("power_factor", 0.993), ("phase_angle", 7), ("frequency", 50),
            ("energy.active.import", 1234.5), ("energy.active.export", 12.25), ("energy.reactive.import", 300.5),
            ("energy.reactive.export", 3.5), ("energy.active.total", 1246.75), ("energy.reactive.total", 304),
        ]
        for (name, value) in expected {
            #expect(recorder.readings.value("meter.\(name)") == value, "\(name)")
        }
        let energy = try #require(recorder.samples("meter.energy.active.import").first)
        #expect(energy.series.unit == "kW.h" && energy.series.kind == .counter)
        try await poll("the server's request lines") { server.requests.count >= 3 }
        #expect(server.requests.prefix(3).map { $0.split(separator: " ").suffix(2).joined(separator: "+") }
            == ["0+38", "70+10", "342+4"])
    }

    @Test("an exception response is one sensor fault naming the device, registers and code; the others read on")
    func exception() async throws {
        let server = try ModbusTestServer(exceptions: [.init(function: 3, address: 100, code: 6)])
        let registers = [ModbusRegister(name: "air", address: 6, type: .float32, unit: "Cel"),
                         ModbusRegister(name: "boiler", address: 100, type: .float32, unit: "Cel")]
        let recorder = ReadingRecorder()
        let task = start(modbusDevice(endpoint: .tcp(host: "127.0.0.1", port: server.port), registers: registers),
                         into: recorder)
        defer { task.cancel() }
        try await recorder.wait("three polls") { $0.samples.filter { $0.series.name == "dev.air" }.count >= 3 }
        let faults = recorder.readings.events(.sensorFault)
        #expect(faults.count == 1, "one fault per run of the same exception, not one per poll")
        let fault = try #require(faults.first)
        #expect(fault.message == "dev (tcp 127.0.0.1:\(server.port) unit 1): holding registers 100–101 (`boiler`): "
            + "exception 0x06 server device busy")
        #expect(fault.series?.name == "dev.boiler")
        #expect(fault.attributes["modbus.exception_code"] == .int(6))
        #expect(fault.attributes["modbus.address"] == .int(100))
        #expect(fault.attributes["modbus.function_code"] == .int(3))
        #expect(recorder.samples("dev.boiler").isEmpty)
        #expect(recorder.readings.events(.deviceStale).isEmpty, "a device that answers with exceptions is there")
        #expect((recorder.readings.value("dev.modbus.errors") ?? 0) >= 1)
    }

    @Test("a read bridging addresses the device does not have is refused (0x02), then read value by value")
    func bridgedGapRefused() async throws {
        let server = try ModbusTestServer()
        let registers = [ModbusRegister(name: "small", address: 40, type: .int16, order: .badc),
                         ModbusRegister(name: "boiler", address: 100, type: .float32)]
        let recorder = ReadingRecorder()
        let task = start(modbusDevice(endpoint: .tcp(host: "127.0.0.1", port: server.port), registers: registers,
                                      maxGap: 60), into: recorder)
        defer { task.cancel() }
        try await recorder.wait("both values") { $0.value("dev.small") != nil && $0.value("dev.boiler") != nil }
        #expect(recorder.readings.value("dev.small") == -2)
        #expect(recorder.readings.value("dev.boiler") == 230.5)
        #expect(recorder.readings.problems.contains { $0.contains("holding registers 40–101 refused as one read") })
        #expect(recorder.readings.events(.sensorFault).isEmpty)
    }

    @Test("a server that stops is stale once, naming the device and why; after it restarts the values return")
    func serverRestart() async throws {
        var server = try ModbusTestServer()
        let port = server.port
        let recorder = ReadingRecorder()
        let task = start(modbusDevice(endpoint: .tcp(host: "127.0.0.1", port: port),
                                      registers: [ModbusRegister(name: "air", address: 6, type: .float32)]),
                         into: recorder)
        defer { task.cancel() }
        try await recorder.wait("a first value") { $0.value("dev.air") != nil }
        server.stop()
        try await recorder.wait("the device stale") { !$0.events(.deviceStale).isEmpty }
        let stale = try #require(recorder.readings.events(.deviceStale).first)
        #expect(stale.message.hasPrefix("dev (tcp 127.0.0.1:\(port) unit 1) stopped answering: cannot connect: "))
        #expect(stale.series?.name == "dev")
        server = try ModbusTestServer(tcp: port)
        let before = recorder.samples("dev.air").count
        try await recorder.wait("values after the restart") { readings in
            !readings.events(.deviceRecovered).isEmpty
                && readings.samples.filter { $0.series.name == "dev.air" }.count > before
        }
        #expect(recorder.readings.events(.deviceStale).count == 1)
        _ = server
    }

    @Test("a server slower than the timeout costs one timeout per poll; a device on another server reads on")
    func slowServer() async throws {
        let slow = try ModbusTestServer(delay: 3)
        let fast = try ModbusTestServer()
        let registers = [ModbusRegister(name: "a", address: 0), ModbusRegister(name: "b", table: .input, address: 0),
                         ModbusRegister(name: "c", table: .coil, address: 0)]
        let recorder = ReadingRecorder()
        let slowTask = start(modbusDevice("slow", endpoint: .tcp(host: "127.0.0.1", port: slow.port),
                                          registers: registers, timeout: .milliseconds(300)), into: recorder)
        let fastTask = start(modbusDevice("fast", endpoint: .tcp(host: "127.0.0.1", port: fast.port),
                                          registers: registers), into: recorder)
        defer {
            slowTask.cancel()
            fastTask.cancel()
        }
        // Both, whichever comes first: the slow device can go stale before the fast one's second poll.
        try await recorder.wait("the slow device stale and the fast one read twice") { readings in
            !readings.events(.deviceStale).isEmpty
                && readings.samples.filter { $0.series.name == "fast.a" }.count >= 2
        }
        let stale = try #require(recorder.readings.events(.deviceStale).first)
        #expect(stale.message.contains("slow (tcp 127.0.0.1:\(slow.port) unit 1) stopped answering: "
            + "no answer within 300ms"))
        #expect(recorder.readings.problems.contains { $0.hasPrefix("slow (") && $0.contains("no answer within 300ms") })
        #expect(recorder.samples("slow.a").isEmpty)
        #expect(recorder.samples("fast.a").count >= 2)
        // Each poll of the silent device stopped at its first request: as many errors as polls, not three per poll.
        let polls = recorder.samples("slow.modbus.errors").count
        #expect(recorder.samples("slow.modbus.errors").last?.value == Double(polls))
    }
}

@Suite("Modbus answers that are not answers: a raw TCP peer")
struct ModbusMalformedTests {
    /// What the peer does next, switched by the test.
    final class Behaviour: Sendable {
        let reply = Mutex<@Sendable (RawModbusServer.Request) -> RawModbusServer.Reply>({ _ in .silence })
    }

    enum Malformation: String, CaseIterable, Sendable {
        case wrongTransactionID = "a wrong transaction id"
        case shortByteCount = "a byte count that disagrees"
        case otherFunction = "a reply to another function"
        case undefinedException = "an exception code the protocol does not define"
        case zeroLength = "a length field of zero"
        case closed = "a closed connection"

        func reply(_ request: RawModbusServer.Request) -> RawModbusServer.Reply {
            var bytes = request.answer([0x00, 0x07, 0x00, 0x08])
            switch self {
            case .wrongTransactionID: bytes[1] ^= 0xFF
            case .shortByteCount: bytes = request.answer([0x00, 0x07])
            case .otherFunction: bytes[7] = 0x04
            case .undefinedException:
                bytes = request.transactionID + [0, 0, 0, 3, request.unit, request.function | 0x80, 0x63]
            case .zeroLength: bytes = request.transactionID + [0, 0, 0, 0, request.unit]
            case .closed: return .close
            }
            return .bytes(bytes)
        }
    }

    @Test("malformed answers are errors naming the device and the read; the input polls on and reads when they end",
          arguments: Malformation.allCases)
    func malformed(_ malformation: Malformation) async throws {
        let kind = malformation.rawValue
        let reply: @Sendable (RawModbusServer.Request) -> RawModbusServer.Reply = { malformation.reply($0) }
        let behaviour = Behaviour()
        behaviour.reply.withLock { $0 = reply }
        let server = try RawModbusServer { request in behaviour.reply.withLock { $0 }(request) }
        let recorder = ReadingRecorder()
        let task = start(modbusDevice(endpoint: .tcp(host: "127.0.0.1", port: server.port),
                                      registers: [ModbusRegister(name: "x", address: 0, type: .uint32)],
                                      timeout: .milliseconds(300)), into: recorder)
        defer { task.cancel() }
        try await recorder.wait("two failed polls") { readings in
            (readings.samples.last { $0.series.name == "dev.modbus.errors" }?.value ?? 0) >= 2
        }
        let problems = recorder.readings.problems
        let prefix = "dev (tcp 127.0.0.1:\(server.port) unit 1): holding registers 0–1: "
        #expect(problems.allSatisfy { $0.hasPrefix(prefix) },
                "\(kind): \(problems)")
        #expect(recorder.samples("dev.x").isEmpty)
        behaviour.reply.withLock { $0 = { r in .bytes(r.answer([0x00, 0x07, 0x00, 0x08])) } }
        try await recorder.wait("a value once the answers are right") { $0.value("dev.x") != nil }
        #expect(recorder.readings.value("dev.x") == 0x0007_0008)
    }

    @Test("a wrong unit id behind a TCP gateway: fault 0x0B naming the unit and registers, then stale")
    func wrongUnit() async throws {
        // A TCP-to-RTU gateway answers for a unit that is not on its bus with exception 0x0B (§7).
        let server = try RawModbusServer { request in
            request.unit == 1 ? .bytes(request.answer([0x00, 0x2A]))
                : .bytes(request.transactionID + [0, 0, 0, 3, request.unit, request.function | 0x80, 0x0B])
        }
        let recorder = ReadingRecorder()
        let wrong = start(modbusDevice("wrong", endpoint: .tcp(host: "127.0.0.1", port: server.port), unit: 9,
                                       registers: [ModbusRegister(name: "x", address: 0)]), into: recorder)
        let right = start(modbusDevice("right", endpoint: .tcp(host: "127.0.0.1", port: server.port), unit: 1,
                                       registers: [ModbusRegister(name: "x", address: 0)]), into: recorder)
        defer {
            wrong.cancel()
            right.cancel()
        }
        try await recorder.wait("the wrong unit stale") { !$0.events(.deviceStale).isEmpty }
        let fault = try #require(recorder.readings.events(.sensorFault).first)
        let device = "wrong (tcp 127.0.0.1:\(server.port) unit 9)"
        #expect(fault.message == "\(device): holding register 0 (`x`): exception 0x0B gateway target device failed to "
            + "respond")
        #expect(recorder.readings.events(.sensorFault).count == 1)
        let stale = recorder.readings.events(.deviceStale).first?.message ?? ""
        #expect(stale.hasPrefix("\(device) stopped answering: exception 0x0B"), "\(stale)")
        #expect(recorder.readings.value("right.x") == 42, "the other unit on the same server reads on")
    }

    @Test("a peer dribbling its answer byte by byte is cut at the poll's deadline, and the lane is free again")
    func dribble() async throws {
        // 11 bytes 600 ms apart: each gap is within the 1 s byte timeout, so only the poll's deadline (2 × 1 s) ends
        // the read; without it the value would arrive after 6.6 s. The margin is wide because the deadline is a task
        // on the cooperative pool, which a loaded machine may run late; polls every 3 s never overlap a cut one.
        let slowServer = try RawModbusServer { request in .dribble(request.answer([0x12, 0x34]), interval: 0.6) }
        let recorder = ReadingRecorder()
        let device = modbusDevice(endpoint: .tcp(host: "127.0.0.1", port: slowServer.port),
                                  registers: [ModbusRegister(name: "x", address: 0)], interval: .seconds(3),
                                  timeout: .seconds(1))
        let task = start(device, into: recorder)
        defer { task.cancel() }
        let deadline = "dev (tcp 127.0.0.1:\(slowServer.port) unit 1): no complete answer within the poll's deadline "
            + "of 2s"
        // A generous bound: under a full suite this suite may wait long for a thread (no figure is judged by it).
        try await recorder.wait("two polls cut at the deadline", timeout: .seconds(120)) {
            $0.problems.filter { $0 == deadline }.count >= 2
        }
        #expect(recorder.samples("dev.x").isEmpty, "no poll waited for the dribbled answer")
        #expect(!recorder.readings.problems.contains { $0.contains("still busy") },
                "the cut read freed the lane before the next poll")
    }
}
