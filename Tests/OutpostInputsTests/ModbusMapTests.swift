import Foundation
import OutpostCore
@testable import OutpostInputs
import Testing

/// The holding registers 0–40 of `modbus_server.py`'s test map as pymodbus sends them (encoded there with Python's
/// struct module, independently of `ModbusDecoder`).
let testMapWords: [UInt16] = [
    51234, 64302, 45776, 24064, 13035, 63652, 16812, 0, 0, 49232, 32068, 80, 0, 62, 65535, 65533, 59278, 58880, 13596,
    56543, 512, 0, 16389, 48906, 35588, 37275, 64173, 27996, 19013, 49299, 57156, 40926, 43024, 25043, 64681, 61906,
    19810, 20671, 36, 0, 65279,
]

/// Every type and order of the test map: (name, address, type, order, bit, value the server encoded).
let testMapValues: [(String, Int, ModbusValueType, ModbusOrder, Int?, Double)] = [
    ("u16", 0, .uint16, .abcd, nil, 51234), ("i16", 1, .int16, .abcd, nil, -1234),
    ("u32", 2, .uint32, .abcd, nil, 3_000_000_000), ("i32", 4, .int32, .cdab, nil, -123_456_789),
    ("f32.abcd", 6, .float32, .abcd, nil, 21.5), ("f32.cdab", 8, .float32, .cdab, nil, -3.25),
    ("f32.badc", 10, .float32, .badc, nil, 1013.25), ("f32.dcba", 12, .float32, .dcba, nil, 0.125),
    ("i64", 14, .int64, .abcd, nil, -9_000_000_000), ("u64", 18, .uint64, .dcba, nil, 12_345_678_901),
    ("f64.abcd", 22, .float64, .abcd, nil, 2.718281828), ("f64.cdab", 26, .float64, .cdab, nil, -1234.5678),
    ("f64.badc", 30, .float64, .badc, nil, 6.02e23), ("f64.dcba", 34, .float64, .dcba, nil, -0.001),
    ("bit2", 38, .bool, .abcd, 2, 1), ("bit3", 38, .bool, .abcd, 3, 0), ("bit5", 38, .bool, .abcd, 5, 1),
    ("i16.badc", 40, .int16, .badc, nil, -2),
]

func testMapRegisters() -> [ModbusRegister] {
    testMapValues.map { name, address, type, order, bit, _ in
        ModbusRegister(name: name, table: .holding, address: address, type: type, order: order, bit: bit)
    }
}

@Suite("Modbus register maps: decoding every type and order, and the requests a map costs")
struct ModbusMapTests {
    @Test("every type and byte/word order decodes to the value the server encoded",
          arguments: testMapValues.indices)
    func decodes(index: Int) {
        let (name, address, type, order, bit, expected) = testMapValues[index]
        let register = ModbusRegister(name: name, address: address, type: type, order: order, bit: bit)
        let words = testMapWords[address..<address + type.registerCount]
        #expect(ModbusDecoder.raw(register, words: words) == expected, "\(name)")
    }

    @Test("scale and offset apply to the raw value; a bit table's bit can be inverted by them")
    func scaleAndOffset() {
        let register = ModbusRegister(name: "t", table: .input, address: 0, type: .int16, scale: 0.1, offset: -40)
        #expect(ModbusDecoder.value(register, words: [0x01F4][...]) == 10)  // 500 × 0.1 − 40
        #expect(ModbusDecoder.value(register, words: [0xFF9C][...]) == -50)  // −100 × 0.1 − 40
        let contact = ModbusRegister(name: "closed", table: .discrete, address: 0, scale: -1, offset: 1)
        #expect(ModbusDecoder.value(contact, bit: 1) == 0)
        #expect(ModbusDecoder.value(contact, bit: 0) == 1)
    }

    @Test("a float32 reads as the decimal the device means (230.1, not 230.10000610351562); NaN stays NaN")
    func float32Decimal() {
        let register = ModbusRegister(name: "v", table: .input, address: 0, type: .float32)
        #expect(ModbusDecoder.raw(register, words: [0x4366, 0x199A][...]) == 230.1)
        #expect(ModbusDecoder.raw(register, words: [0x4366, 0x199A][...]) != Double(Float(230.1)))
        #expect(ModbusDecoder.raw(register, words: [0x7FC0, 0x0000][...]).isNaN)
        #expect(ModbusDecoder.raw(register, words: [0xFF80, 0x0000][...]) == -.infinity)
        #expect(ModbusDecoder.raw(register, words: [0x0000, 0x0001][...]) == 1e-45)
    }

    @Test("a bool register without `bit` is 1 for any non-zero word")
    func boolRegister() {
        let register = ModbusRegister(name: "running", address: 0, type: .bool)
        #expect(ModbusDecoder.value(register, words: [0x8000][...]) == 1)
        #expect(ModbusDecoder.value(register, words: [0][...]) == 0)
    }

    @Test("values close together share one read; gaps up to max_gap are read along, wider ones start a new read")
    func coalescing() {
        let registers = [
            ModbusRegister(name: "a", address: 0, type: .float32),
            ModbusRegister(name: "b", address: 2, type: .float32),
            ModbusRegister(name: "c", address: 14, type: .uint16), ModbusRegister(name: "d", address: 40, type: .uint16),
            ModbusRegister(name: "e", table: .input, address: 0, type: .uint16),
            ModbusRegister(name: "f", table: .coil, address: 3), ModbusRegister(name: "g", table: .coil, address: 150),
        ]
        let plan = ModbusRequestPlanner.plan(registers, maxGap: 10, maxRegisters: 125)
        #expect(plan.map { "\($0.table.rawValue) \($0.start)+\($0.count) \($0.values)" } == [
            "coil 3+148 [5, 6]", "holding 0+15 [0, 1, 2]", "holding 40+1 [3]", "input 0+1 [4]",
        ])
        let tight = ModbusRequestPlanner.plan(registers, maxGap: 0, maxRegisters: 125)
        #expect(tight.filter { $0.table == .holding }.map(\.start) == [0, 14, 40])
    }

    @Test("a read never asks for more than 125 registers (or max_registers), and never splits a value")
    func requestLimit() {
        let registers = (0..<100).map { ModbusRegister(name: "r\($0)", address: $0 * 2, type: .float32) }
        let plan = ModbusRequestPlanner.plan(registers, maxGap: 10, maxRegisters: 125)
        #expect(plan.count == 2)
        #expect(plan.allSatisfy { $0.count <= 125 && $0.count % 2 == 0 })
        #expect(plan.flatMap(\.values).sorted() == Array(0..<100))
        let small = ModbusRequestPlanner.plan(registers, maxGap: 10, maxRegisters: 16)
        #expect(small.count == 13 && small.allSatisfy { $0.count <= 16 })
        // 20 devices' worth of a typical map: 20 float32 in a row is one read, not twenty.
        let twenty = (0..<20).map { ModbusRegister(name: "v\($0)", address: $0 * 2, type: .float32) }
        #expect(ModbusRequestPlanner.plan(twenty, maxGap: 0, maxRegisters: 125).count == 1)
    }

    @Test("the SDM120 preset costs three reads: its mapped runs, not one read per value")
    func presetPlan() throws {
        let preset = try #require(ModbusPreset.named("sdm120"))
        let plan = ModbusRequestPlanner.plan(preset.registers, maxGap: 10, maxRegisters: 125)
        #expect(plan.map(\.place) == ["input registers 0–37", "input registers 70–79", "input registers 342–345"])
    }

    @Test("t3.5 between frames: 3.5 eleven-bit characters up to 19200 baud, 1.75 ms above")
    func frameGap() {
        #expect(ModbusSerialLine(device: "/dev/x", baud: 9600, parity: .even).frameGap == .nanoseconds(4_010_417))
        #expect(ModbusSerialLine(device: "/dev/x", baud: 2400, parity: .none, stopBits: 1).frameGap
            == .nanoseconds(14_583_334))
        #expect(ModbusSerialLine(device: "/dev/x", baud: 115_200).frameGap == .microseconds(1750))
    }

    @Test("a device is stale after stale_after unanswered polls, once, and recovers at its next answer")
    func health() {
        var health = ModbusDeviceHealth(staleAfter: 3)
        #expect(health.polled(answered: true, now: 1_000) == nil)
        #expect(health.polled(answered: false, now: 2_000) == nil)
        #expect(health.polled(answered: false, now: 3_000) == nil)
        #expect(health.polled(answered: false, now: 4_000) == .stale(polls: 3))
        #expect(health.polled(answered: false, now: 5_000) == nil)
        #expect(health.polled(answered: true, now: 6_000) == .recovered(silentFor: 5_000))
        #expect(health.polled(answered: false, now: 7_000) == nil)
        var never = ModbusDeviceHealth(staleAfter: 0)
        for time in 0..<10 { #expect(never.polled(answered: false, now: Int64(time)) == nil) }
    }

    @Test("libmodbus errors are sorted: exceptions, bad frames, timeouts, broken connections")
    func classification() {
        let base = Int32(112_345_678)
        #expect(ModbusConnection.classify(code: base + 2, count: -1, expected: 2, timeout: .seconds(1))
            == .exception(2))
        #expect(ModbusConnection.classify(code: base + 12, count: -1, expected: 2, timeout: .seconds(1))
            == .malformed("bad CRC (noise on the line, or a wrong baud rate or parity)"))
        #expect(ModbusConnection.classify(code: base + 17, count: -1, expected: 2, timeout: .seconds(1))
            .description == "malformed answer: it came from another unit id")
        #expect(ModbusConnection.classify(code: ETIMEDOUT, count: -1, expected: 2, timeout: .seconds(1))
            == .noAnswer(.seconds(1)))
        #expect(ModbusConnection.classify(code: ECONNRESET, count: -1, expected: 2, timeout: .seconds(1))
            == .broken("Connection reset by peer"))
        #expect(ModbusFailure.exception(0x0B).deviceAnswered == false)
        #expect(ModbusFailure.exception(0x06).deviceAnswered)
        #expect(ModbusFailure.exception(0x02).description == "exception 0x02 illegal data address")
        #expect(ModbusFailure.exception(0x0B).description == "exception 0x0B gateway target device failed to respond")
    }
}
