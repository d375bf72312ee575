import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostInputs

@Suite("Simulated input")
struct SimulatedInputTests {
    func configuration(seed: UInt64 = 1, _ change: (inout SimulatedInputConfiguration) -> Void = { _ in })
        -> SimulatedInputConfiguration
    {
        var configuration = SimulatedInputConfiguration(identity: SensorIdentity(name: "sim", unit: "Cel"))
        configuration.seed = seed
        configuration.signal = .noise
        configuration.noise = 0.1
        change(&configuration)
        return configuration
    }

    func values(_ configuration: SimulatedInputConfiguration, count: Int) -> [Double?] {
        var reader = SimulatedReader(configuration: configuration)
        return (0..<count).map { _ in reader.nextValue() }
    }

    @Test("the same seed gives the same series; another seed another")
    func deterministic() {
        #expect(values(configuration(seed: 5), count: 100) == values(configuration(seed: 5), count: 100))
        #expect(values(configuration(seed: 5), count: 100) != values(configuration(seed: 6), count: 100))
    }

    @Test("spikes repeat at `at` + k·`every` for `duration`, a level shift stays, a dropout sends nothing")
    func injections() {
        let spiky = configuration {
            $0.noise = 0
            $0.injections = [
                .init(kind: .spike, at: .seconds(10), every: .seconds(30), duration: .seconds(2), size: 5),
                .init(kind: .levelShift, at: .seconds(50), every: nil, duration: nil, size: -3),
                .init(kind: .dropout, at: .seconds(55), every: nil, duration: .seconds(3), size: 0),
            ]
        }
        let series = values(spiky, count: 60)
        #expect(series[9] == 20 && series[10] == 25 && series[11] == 25 && series[12] == 20)
        #expect(series[40] == 25 && series[41] == 25 && series[42] == 20)
        #expect(series[49] == 20 && series[50] == 17)
        #expect(series[55] == nil && series[57] == nil && series[58] == 17)
    }

    @Test("a stuck sensor repeats its last value; resolution quantizes like real hardware")
    func stuckAndResolution() {
        let stuck = configuration {
            $0.resolution = 0.0625
            $0.injections = [.init(kind: .stuck, at: .seconds(5), every: nil, duration: .seconds(4), size: 0)]
        }
        let series = values(stuck, count: 12).map { $0! }
        #expect(Set(series[4...8]).count == 1)
        #expect(series.allSatisfy { ($0 / 0.0625).rounded() * 0.0625 == $0 })
    }

    @Test("noise has the configured standard deviation")
    func noiseLevel() {
        let series = values(configuration { $0.noise = 2 }, count: 20_000).map { $0! }
        let mean = series.reduce(0, +) / Double(series.count)
        let sd = (series.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(series.count - 1)).squareRoot()
        #expect(abs(mean - 20) < 0.1)
        #expect(abs(sd - 2) < 0.05)
    }

    @Test("a polled input ticks on its injected clock, not on the wall")
    func pollsOnInjectedClock() async throws {
        let clock = ManualClock()
        let wall = ManualWallClock()
        let input = PolledInput(name: "sim", interval: .seconds(5), reader: SimulatedReader(configuration: configuration()),
                                clock: clock, wallClock: wall)
        let sink = CollectingSink()
        let task = Task { try await input.run(into: sink) }
        try await clock.waitForSleepers(1)
        #expect(sink.count == 1, "reads at once on start")
        clock.advance(by: .seconds(4))
        try await clock.waitForSleepers(1)
        #expect(sink.count == 1)
        clock.advance(by: .seconds(1))
        try await waitUntil("second poll") { sink.count == 2 }
        try await clock.waitForSleepers(1)
        clock.advance(by: .seconds(12))  // late: missed ticks are skipped, not bunched
        try await waitUntil("third poll") { sink.count == 3 }
        try await clock.waitForSleepers(1)
        #expect(sink.count == 3)
        task.cancel()
        _ = try? await task.value
    }
}

/// Records what an input sends.
final class CollectingSink: ReadingSink {
    private let readings = Mutex<[[Reading]]>([])

    var count: Int { readings.withLock { $0.count } }
    var all: [Reading] { readings.withLock { $0.flatMap { $0 } } }

    func accept(_ batch: [Reading]) async {
        readings.withLock { $0.append(batch) }
    }
}

import Synchronization

@Suite("Replay files")
struct ReplayFileTests {
    func lines(_ path: String) throws -> (header: String?, lines: [ReplayLine]) {
        let file = try ReplayFile(path: fixture(path))
        let header = file.readHeader()
        var lines: [ReplayLine] = []
        while let line = file.next() { lines.append(line) }
        return (header, lines)
    }

    @Test("every timestamp format, comments, blank lines, quotes; bad rows skipped with their line numbers")
    func mixed() throws {
        let (header, lines) = try lines("replay/mixed.csv")
        #expect(header == nil)
        var rows: [(Int, Int64, Double)] = []
        var skipped: [(Int, String)] = []
        for line in lines {
            switch line {
            case .row(let number, let time, let value): rows.append((number, time, value))
            case .skipped(let number, let reason): skipped.append((number, reason))
            }
        }
        let base: Int64 = 1_772_366_400 * 1_000_000_000  // 2026-03-01T12:00:00Z
        #expect(rows.map(\.0) == [2, 3, 4, 5, 6, 14])
        #expect(rows.map(\.1) == [base, base + 1_000_000_000, base + 2_000_000_000, base + 3_500_000_000,
                                  base + 4_000_000_000, base + 9_250_000_000])
        #expect(rows.map(\.2) == [20.5, 20.6, 20.7, 20.8, 20.9, 21.2])
        #expect(skipped.map(\.0) == [9, 10, 11, 12, 13])
        #expect(skipped[0].1.contains("not a timestamp"))
        #expect(skipped[1].1.contains("not a finite number"))
        #expect(skipped[3].1.contains("expected 2 fields"))
        #expect(skipped[4].1.contains("older than the row before"))
    }

    @Test("rows outside 1970..2199 or longer than the line limit are skipped with their line numbers")
    func outOfRangeRows() throws {
        let (header, lines) = try lines("replay/out-of-range.csv")
        #expect(header == nil)
        let rows = lines.compactMap { if case .row(let number, _, let value) = $0 { (number, value) } else { nil } }
        let skipped = lines.compactMap { if case .skipped(let number, let reason) = $0 { (number, reason) } else { nil } }
        #expect(rows.map(\.0) == [2, 13])
        #expect(rows.map(\.1) == [12.8, 13.0])
        #expect(skipped.map(\.0) == Array(3...12))
        #expect(skipped.prefix(8).allSatisfy { $0.1.contains("outside the times Outpost records") })
        #expect(skipped.last?.1.contains("longer than 4096 bytes") == true)
    }

    @Test("a UTF-8 byte order mark (spreadsheet export) is skipped: all rows replay")
    func byteOrderMark() throws {
        let (header, lines) = try lines("replay/bom.csv")
        #expect(header == nil)
        #expect(lines.count == 4)
        #expect(lines.allSatisfy { if case .row = $0 { true } else { false } })
    }

    @Test("a header that differs only invisibly says so, with the character escaped")
    func invisibleHeader() throws {
        let (header, _) = try lines("replay/invisible-header.csv")
        #expect(header?.contains("found `time\\u{200B}stamp,value`") == true)
    }

    @Test("a replay pause is computed without overflow and capped at a day")
    func replayGap() {
        #expect(ReplayInput.gap(from: 0, to: .max, speed: 1e-300) == .seconds(86_400))
        #expect(ReplayInput.gap(from: 0, to: 2_000_000_000, speed: 2) == .seconds(1))
        #expect(ReplayInput.gap(from: 5, to: 5, speed: 1) == .zero)
    }

    @Test("Windows line endings are fine")
    func crlf() throws {
        let (header, lines) = try lines("replay/crlf.csv")
        #expect(header == nil)
        #expect(lines.count == 2)
    }

    @Test("a wrong header or an empty file is reported, naming the file", arguments: [
        "replay/bad-header.csv", "replay/empty.csv",
    ])
    func badFiles(path: String) throws {
        let (header, lines) = try lines(path)
        #expect(header?.contains(path.split(separator: "/").last!) == true)
        #expect(header?.contains("timestamp,value") == true)
        _ = lines
    }

    @Test("a replay input sends every row with its recorded time, and problems with line numbers")
    func replayInput() async throws {
        let configuration = ReplayInputConfiguration(path: fixture("replay/mixed.csv"),
                                                     identity: SensorIdentity(name: "mixed", unit: "Cel"))
        let sink = CollectingSink()
        try await ReplayInput(configuration: configuration, clock: ManualClock()).run(into: sink)
        #expect(sink.all.samples.count == 6)
        #expect(sink.all.problems.count == 5)
        #expect(sink.all.problems.first?.contains("mixed.csv:9") == true)
    }

    @Test("a live replay input skips rows it cannot store, counts them, and carries on to the end")
    func replayInputOutOfRange() async throws {
        let configuration = ReplayInputConfiguration(path: fixture("replay/out-of-range.csv"),
                                                     identity: SensorIdentity(name: "r", unit: ""))
        let sink = CollectingSink()
        try await ReplayInput(configuration: configuration, clock: ManualClock()).run(into: sink)
        #expect(sink.all.samples.map(\.value) == [12.8, 13.0])
        #expect(sink.all.problems.count == 10)
        #expect(sink.all.problems.first?.contains("out-of-range.csv:3: skipped") == true)
    }

    @Test("timestamps parse to the right instant", arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)), ("2000-02-29T12:00:00Z", Int64(951_825_600) * 1_000_000_000),
        ("2026-03-01T12:00:00.5-05:30", (Int64(1_772_366_400) + 19_800) * 1_000_000_000 + 500_000_000),
        ("1772366400", Int64(1_772_366_400) * 1_000_000_000), ("1.5", Int64(1_500_000_000)),
        ("2199-12-31T23:59:59.999999999Z", Int64(7_258_118_399_999_999_999)),
    ])
    func timestamps(text: String, expected: Int64) {
        #expect(Timestamp.parse(text) == expected)
    }

    @Test("unix seconds at the edges of the byte parser", arguments: [
        ("0000000000000000001", Int64(1_000_000_000)), ("007", Int64(7_000_000_000)),
        ("1.000000000999", Int64(1_000_000_000)), ("0.5", Int64(500_000_000)),
    ])
    func unixSecondsEdges(text: String, expected: Int64) {
        #expect(Timestamp.parse(text) == expected)
    }

    @Test("malformed unix seconds are not timestamps", arguments: ["5.", ".5", "-", "1.2.3", "-.5", "5-", ""])
    func malformedUnixSeconds(text: String) {
        #expect(throws: Timestamp.Failure.notATimestamp) { try Timestamp.parseChecked(text) }
    }

    @Test("rows across read boundaries, a line longer than a read, CRLF and no final newline")
    func readBoundaries() throws {
        var text = "timestamp,value\r\n"
        var expected: [Int64] = []
        // Rows of varying width, so some straddle each 64 KiB read.
        for row in 0..<20_000 {
            text += "\(1_772_366_400 + row),\(String(repeating: "0", count: row % 7))\(row)\r\n"
            expected.append(Int64(1_772_366_400 + row) * 1_000_000_000)
            if row == 9_000 { text += "1772375400,\(String(repeating: "9", count: 100_000))\n" }
        }
        text += "1772386400,1"
        expected.append(1_772_386_400 * 1_000_000_000)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-\(UUID().uuidString).csv").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try ReplayFile(path: path)
        #expect(file.readHeader() == nil)
        var times: [Int64] = []
        var skipped: [String] = []
        while let line = file.next() {
            switch line {
            case .row(_, let time, _): times.append(time)
            case .skipped(let number, let reason): skipped.append("\(number): \(reason)")
            }
        }
        #expect(times == expected)
        #expect(skipped == ["9003: line longer than 4096 bytes"])
    }

    @Test("impossible dates are rejected", arguments: ["2026-02-30T00:00:00Z", "2026-13-01 00:00:00", "12:00", "1e9"])
    func badTimestamps(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test("instants OTLP cannot carry or Int64 nanoseconds cannot hold are out of range, never a trap", arguments: [
        "2262-04-11T23:47:17Z", "6026-03-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+23:59",
        "0000-01-01T00:00:00-23:59", "-9223372036854775808", "9223372036854775807", "99999999999999999999",
        "-1.5", "1969-12-31T23:59:59Z", "2200-01-01T00:00:00Z",
    ])
    func outOfRangeTimestamps(text: String) {
        #expect(throws: Timestamp.Failure.outOfRange) { try Timestamp.parseChecked(text) }
    }
}
