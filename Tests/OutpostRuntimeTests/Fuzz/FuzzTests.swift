import Foundation
import OutpostCore
@testable import OutpostInputs
import OutpostMQTT
import OutpostOperations
import OutpostTestSupport
import OutpostWire
import Synchronization
import Testing
@testable import OutpostRuntime

/// Fuzz targets for what Outpost parses from outside: the TOML config (through every key reader), JSON from MQTT
/// and commands, replay CSVs (single-series and multi-column tables) with their timestamps, and Modbus answers
/// (through libmodbus and the decoder). In the suite each runs a short, fixed budget (seeded, so repeatable);
/// `Scripts/fuzz` runs them for minutes. Inputs that crashed Outpost before are kept in `Fuzz/Regressions` and run
/// first.
@Suite("Fuzzing: hostile config, JSON, CSV and Modbus answers never crash")
struct FuzzTests {
    static let executions = 1500

    static func regressions(_ suffix: String) -> [String] {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Regressions")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(suffix) }.sorted().compactMap {
            try? String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8)
        }
    }

    @Test("the config loader: every mutation is a config or an error, never a trap")
    func toml() throws {
        let regressions = Self.regressions(".toml")
        #expect(regressions.count >= 9)
        for text in regressions {
            #expect(throws: ConfigErrors.self) { try OutpostConfiguration.parse(text, file: "fuzz.toml", environment: [:]) }
        }
        let seeds = [
            "[gateway]\nid = \"g\"\n[[input.simulated]]\nname = \"a.b\"\ninterval = \"5s\"\nbase = 1.5\n",
            "[batch]\nmax_points = 100\ngzip_level = 6\nmax_age = 10\n[detect]\nsigma = 3.0\nwindow = 60\n"
                + "[[input.simulated]]\nname = \"x\"\n[[input.simulated.inject]]\nkind = \"spike\"\nat = \"1m\"\n",
            "[[input.exec]]\ncommand = [\"true\"]\nformat = \"json\"\nunits = { a = \"%\" }\nmax_series = 5\n",
            "[[input.replay]]\npath = \"r.csv\"\nspeed = 2\n[input.host]\ninterval = 1.5e0\nt = 1979-05-27T07:32:00Z\n",
            "[report]\ndeadband = \"2%\"\n[[report.override]]\nseries = \"a.*\"\nmax_silence = \"15m\"\n"
                + "[[uplink.otlp_http]]\nmonthly_bytes = \"100MB\"\nbilling_day = 31\n"
                + "sync_windows = [\"22:00-06:00\"]\n"
                + "alert_reserve = \"5%\"\nmetered = \"auto\"\naggregate = \"15m\"\ncompression = \"zstd\"\n"
                + "[[input.simulated]]\nname = \"a.b\"\nreport = { deadband = 0.1 }\n",
        ] + regressions.filter { $0.count < 4096 }
        var fuzzer = MutationFuzzer(target: "toml", seeds: seeds, tokens: [
            "[", "{a=", "inf", "nan", "-inf", "1e300", "9223372036854775807", "-9223372036854775808", "\"",
            "\"\"\"", "'''", "\n", "a.b.c", "[[input.file]]", "\u{FEFF}", "${X}", "= ", "0x7fffffffffffffff", "\"9999d\"",
            "\"24:00-00:00\"", "\"100%\"", "\"-1%\"",
        ])
        _ = fuzzer.run(executions: Self.executions) { bytes in
            (try? OutpostConfiguration.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.toml",
                                             environment: [:])) != nil
        }
    }

    @Test("JSON from MQTT and commands: parsed or refused, never a non-finite sample; one rule for both inputs")
    func json() throws {
        var configuration = MQTTInputConfiguration(broker: "b", topics: ["#"], identity: SensorIdentity(name: "z", unit: ""))
        configuration.preset = "zigbee2mqtt"
        configuration.format = .json
        configuration.units = MQTTInputConfiguration.defaultUnits
        configuration.seriesTable = SeriesTable(limit: 200)
        configuration.timeField = "last_seen"
        var mqtt = MQTTPayloadParser(configuration: configuration)
        var tasmotaConfiguration = configuration
        tasmotaConfiguration.preset = "tasmota"
        tasmotaConfiguration.timeField = "Time"
        var tasmota = MQTTPayloadParser(configuration: tasmotaConfiguration)
        // The same document through a plain MQTT input and a command must make the same fields and values.
        var plainConfiguration = MQTTInputConfiguration(broker: "b", topics: ["#"], identity: SensorIdentity(name: "e",
                                                                                                               unit: ""))
        plainConfiguration.format = .json
        plainConfiguration.seriesTable = SeriesTable(limit: 100_000)
        var plain = MQTTPayloadParser(configuration: plainConfiguration)
        var exec = ExecInputConfiguration(command: ["true"], identity: SensorIdentity(name: "e", unit: "%"),
                                          extraction: try NumberExtraction())
        exec.format = .json
        let json = ExecReader(configuration: exec)
        exec.format = .keyValue
        let keyValue = ExecReader(configuration: exec)
        let topic = AlertTopic(template: "{prefix}/{gateway}/alerts/{severity}/{series}", prefix: "outpost",
                               gateway: "gw")
        let validName = try Regex("^[A-Za-z][A-Za-z0-9_./-]{0,254}$")
        var time: Int64 = 1_796_000_000_000_000_000
        let check: ([UInt8]) -> Bool = { bytes in
            time += 1_000_000_000
            let text = String(decoding: bytes, as: UTF8.self)
            // The first line, as a device name a publisher made up: it must never make an invalid name or topic.
            let device = String(text.split(separator: "\n", omittingEmptySubsequences: false).first?.prefix(300) ?? "")
            let readings = mqtt.readings(for: MQTTMessage(topic: "zigbee2mqtt/\(device)", payload: bytes), now: time)
                + tasmota.readings(for: MQTTMessage(topic: "tele/\(device)/SENSOR", payload: bytes), now: time)
            for case .sample(let sample) in readings {
                if !sample.value.isFinite { Issue.record("non-finite sample from \(text.prefix(80))") }
                if (try? validName.wholeMatch(in: sample.series.name)) == nil {
                    Issue.record("invalid series name \(sample.series.name.debugDescription)")
                }
                let alert = topic.topic(for: Event(name: .thresholdCrossed, severity: .warn, time: time,
                                                   series: sample.series, message: ""))
                if alert.utf8.count > 65535 || alert.unicodeScalars.contains(where: {
                    $0 == "+" || $0 == "#" || $0.properties.generalCategory == .control
                }) {
                    Issue.record("invalid alert topic from \(text.prefix(80))")
                }
            }
            let values = json.parse(text).values
            let viaMQTT = Set(plain.readings(for: MQTTMessage(topic: "m/d", payload: bytes), now: time)
                .compactMap { reading -> String? in
                    guard case .sample(let sample) = reading else { return nil }
                    return "\(sample.series.name)=\(sample.value)"
                })
            let viaExec = Set(values.map { "\(MetricName.limited("e." + ($0.0 ?? "")))=\($0.1)" })
            // (A payload over MQTT's max_payload is skipped there, as it should be: not a difference of the rule.)
            if text.trimmingSpaces().hasPrefix("{"), bytes.count <= plainConfiguration.maxPayload, viaMQTT != viaExec {
                let differences = Array(viaMQTT.symmetricDifference(viaExec).sorted().prefix(4))
                Issue.record("MQTT and exec read \(String(text.prefix(120)).debugDescription) differently: \(differences)")
            }
            _ = keyValue.parse(text)
            return (try? JSONValue.parse(text)) != nil && !values.isEmpty
        }
        for text in Self.regressions(".json") { _ = check(Array(text.utf8)) }
        var fuzzer = MutationFuzzer(target: "json", seeds: [
            #"{"temperature":21.5,"humidity":40,"battery":"87","update":{"state":"idle","x":[1,2]},"ok":true}"#,
            #"{"BME280":{"Temperature":21.1,"Pressure":1013.2},"Time":"2026-03-01T12:00:00"}"#, "21.5", "\"7\"",
            #"{"Time":"2026-12-06T10:00:00+01:00","DS18B20-1":{"Id":"01144A0CB2AA","Temperature":21.5},"#
                + #""DS18B20-2":{"Id":"0316A2794CFF","Temperature":9.0},"TempUnit":"C"}"#,
            #"{"Upper":5,"nested":{"inner":{"deep":1.25}},"str":"23.5","hex":"0x10","big":"1e999","last_seen":1796000}"#,
            "a=1\nb=2.5e3\n",
        ] + Self.regressions(".json").filter { $0.count < 4096 }, tokens: [
            "{", "[", "\"a\":", "1e999", "-1e999", "\"NaN\"", "\"inf\"", "null", ",", "\\u0000", "\\ud800", "1e-400",
            "140", "-300", "\"Time\":", "\"last_seen\":", "\"2026-12-06T10:00:00Z\"", "\"Id\":", "\"DS18B20-1\":",
            "\"0x10\"", "\" 7 \"", "\"23.5\"", "\"A b/c+#\":", "\\u0007", "+", "#",
        ])
        _ = fuzzer.run(executions: Self.executions, check)
    }

    @Test("replay CSVs: rows are in range, finite and in order, or skipped with a line number")
    func csv() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("in.csv").path
        let check: ([UInt8]) -> Bool = { bytes in
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            guard let file = try? ReplayFile(path: path) else { return false }
            guard file.readHeader() == nil else { return false }
            var previous = Int64.min, rows = 0
            while let line = file.next() {
                guard case .row(let number, let time, let value) = line else { continue }
                if !value.isFinite || time < previous || time < 0 || time >= Timestamp.range.upperBound * 1_000_000_000 {
                    Issue.record("line \(number): \(time), \(value) from \(String(decoding: bytes.prefix(200), as: UTF8.self))")
                }
                previous = time
                rows += 1
            }
            for field in String(decoding: bytes.prefix(4096), as: UTF8.self).split(separator: ",") {
                _ = Timestamp.parse(String(field))
            }
            return rows > 0
        }
        for text in Self.regressions(".csv") { #expect(check(Array(text.utf8))) }
        var fuzzer = MutationFuzzer(target: "csv", seeds: [
            "timestamp,value\n2026-03-01T12:00:00Z,20.5\n2026-03-01 12:00:01,20.6\n1772366402,20.7\n"
                + "2026-03-01T13:00:04.25+01:00,20.9\n# c\n\"2026-03-01T12:00:09.250Z\",\"21.2\"\n",
        ] + Self.regressions(".csv"), tokens: [
            "2262-04-11T23:47:17Z", "9999", "0001", "-9223372036854775808", "99999999999999999999", "\u{FEFF}", "\r\n",
            ",", "nan", "1e999", "+23:59", ".999999999999", "T", "Z",
        ])
        _ = fuzzer.run(executions: Self.executions, check)
    }

    @Test("multi-column replay CSVs: rows have one finite value or none per series and are in order, or are skipped")
    func table() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("in.csv").path
        let check: ([UInt8]) -> Bool = { bytes in
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            guard let table = try? ReplayTable(path: path) else { return false }
            guard table.readHeader() == nil else { return false }
            var previous = Int64.min, rows = 0
            while let line = table.next() {
                guard case .row(let number, let time, let values, _, _) = line else { continue }
                if values.count != table.columns.count || values.contains(where: { $0.map { !$0.isFinite } ?? false })
                    || time < previous || time < 0 || time >= Timestamp.range.upperBound * 1_000_000_000
                {
                    Issue.record("line \(number): \(time), \(values) from \(String(decoding: bytes.prefix(200), as: UTF8.self))")
                }
                previous = time
                rows += 1
            }
            return rows > 0
        }
        for text in Self.regressions(".table.csv") { _ = check(Array(text.utf8)) }
        var fuzzer = MutationFuzzer(target: "table", seeds: [
            "timestamp,flow,current,pressure\n2026-03-01T12:00:00Z,20.5,3.1,1.2\n1772366402,20.7,,1.3\n"
                + "# c\n\"2026-03-01T12:00:09.250Z\",\"21.2\",3.2,nan\n",
            "datetime;Accelerometer1RMS;Current;Volume Flow RateRMS;anomaly;changepoint\n"
                + "2020-03-09 10:14:33;0,0271;0.0263;32.0;0.0;0.0\n2020-03-09 10:14:34;0.0273;0.0261;32.0;1.0;1.0\n",
            "\u{FEFF}time\ta\tb\r\n1767225600\t1\t2\r\n1767225601\t1,5\t2\r\n",
        ] + Self.regressions(".table.csv"), tokens: [
            ";", ",", "\t", "\"", "anomaly", "datetime", "timestamp", "1e999", "nan", "-0", ",5", "\r\n", "\n",
            "2262-04-11T23:47:17Z", "99999999999999999999", "\u{FEFF}",
        ])
        _ = fuzzer.run(executions: Self.executions, check)
    }

    @Test("HTTP request heads for the local endpoint: a request with a path, an answer, or more to read")
    func http() throws {
        let regressions = Self.regressions(".http")
        #expect(regressions.count >= 1)
        let seeds = [
            "GET /metrics?series=1 HTTP/1.1\r\nHost: 127.0.0.1:9464\r\nAccept: */*\r\n\r\n",
            "HEAD /health HTTP/1.0\n\n",
            "GET /status HTTP/1.1\r\nUser-Agent: Prometheus/2.53\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
        ] + regressions
        var fuzzer = MutationFuzzer(target: "http", seeds: seeds, tokens: [
            "\r\n", "\n", "\r\n\r\n", " ", "\t", ":", "?", "&", "=", "/", "HTTP/1.1", "HTTP/9.9", "GET", "\u{0}",
            "\u{7F}", "\u{FF}", "%00", "Content-Length: 99999999999999999999\r\n", "Transfer-Encoding: chunked\r\n",
        ])
        var answered = 0
        _ = fuzzer.run(executions: Self.executions) { bytes in
            switch HTTPRequestHead.parse(bytes) {
            case .request(let head):
                #expect(head.path.hasPrefix("/") && !head.method.isEmpty && !head.method.contains(" "))
                return true
            case .invalid(let status, _):
                #expect([400, 431, 505].contains(status))
                answered += 1
                return false
            case .incomplete:
                #expect(bytes.count < HTTPRequestHead.maximumBytes)
                return false
            }
        }
        #expect(answered > 0, "the mutations reached the refusals")
    }

    /// The bytes the peer answers with next, set by the fuzzer before each read.
    final class NextAnswer: Sendable {
        let bytes = Mutex<[UInt8]>([])
    }

    @Test("Modbus answers: any bytes from a peer are values, a problem or a fault; never a trap or a NaN sample")
    func modbus() throws {
        let next = NextAnswer()
        // The answer keeps the request's transaction id, so mutations reach past libmodbus's first check.
        let server = try RawModbusServer { request in
            var bytes = next.bytes.withLock { $0 }
            if bytes.count >= 2 { bytes.replaceSubrange(0..<2, with: request.transactionID) }
            return .bytesThenClose(bytes)
        }
        let endpoint = ModbusEndpoint.tcp(host: "127.0.0.1", port: server.port)
        let holdingMap = ModbusInputConfiguration(name: "fuzz", endpoint: endpoint, registers: [
            ModbusRegister(name: "t", address: 0, type: .float32, unit: "Cel"),
            ModbusRegister(name: "n", address: 2, type: .int32, order: .cdab, scale: 1e300),
            ModbusRegister(name: "flag", address: 4, type: .bool, bit: 3),
            ModbusRegister(name: "d", address: 5, type: .float64, order: .dcba, unit: "%"),
        ])
        let coilMap = ModbusInputConfiguration(name: "fuzz", endpoint: endpoint,
                                               registers: (0..<10).map { ModbusRegister(name: "c\($0)", table: .coil,
                                                                                        address: $0) })
        var holding = ModbusReader(configuration: holdingMap)
        var coils = ModbusReader(configuration: coilMap)
        let connection = ModbusConnection(endpoint: endpoint)
        defer { connection.close() }
        var time: Int64 = 0, answered = 0
        let check: ([UInt8]) -> Bool = { bytes in
            time += 1
            next.bytes.withLock { $0 = bytes }
            let useCoils = time % 3 == 0
            let request = (useCoils ? coils : holding).requests[0]
            let started = ContinuousClock.now
            let result = connection.read(request, unit: 1, timeout: .milliseconds(50))
            if ContinuousClock.now - started > .seconds(5) { Issue.record("a read took over 5 s") }
            let outcome = ModbusLane.Outcome<[ModbusReadResult]>.done([ModbusReadResult(result, nanos: 1)])
            let readings = useCoils ? coils.readings(for: outcome, now: time)
                : holding.readings(for: outcome, now: time)
            for case .sample(let sample) in readings where !sample.value.isFinite {
                Issue.record("non-finite sample \(sample.series.name) from \(bytes.prefix(40))")
            }
            guard case .success = result else { return false }
            answered += 1
            return true
        }
        // 21.5, 0x12345678 (CDAB), bit 3 set, 1.0 (DCBA): holding registers 0–8.
        let holdingAnswer: [UInt8] = [0, 1, 0, 0, 0, 0x15, 1, 3, 18, 0x41, 0xAC, 0, 0, 0x56, 0x78, 0x12, 0x34, 0, 0x08,
                                      0, 0, 0, 0, 0, 0, 0xF0, 0x3F]
        let coilAnswer: [UInt8] = [0, 1, 0, 0, 0, 5, 1, 1, 2, 0b1010_1101, 0b10]
        let exception: [UInt8] = [0, 1, 0, 0, 0, 3, 1, 0x83, 0x02]
        // Kept answers are hex (`Fuzz/Regressions/<name>.modbus`, e.g. `xxd -p` of modbus.current).
        for regression in Self.regressions(".modbus") {
            let hex = Array(regression.filter(\.isHexDigit))
            let pairs = stride(from: 0, to: hex.count - 1, by: 2).map { String(hex[$0...$0 + 1]) }
            _ = check(pairs.compactMap { UInt8($0, radix: 16) })
        }
        var fuzzer = MutationFuzzer(target: "modbus", byteSeeds: [holdingAnswer, coilAnswer, exception], byteTokens: [
            [0x7F, 0xC0, 0, 0], [0xFF, 0x80, 0, 0], [0x7F, 0x80, 0, 0], [0xFF, 0xFF], [0], [0x80], [0x83, 0x0B],
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0xFA],
        ])
        _ = fuzzer.run(executions: Self.executions, check)
        #expect(server.requestCount > 0)
        #expect(answered > 0, "some mutations are still answers: the fuzzer reaches the decoder")
    }

    @Test("time zones: TZif files and POSIX TZ rules are read or refused, and every offset is one a clock can have")
    func zones() throws {
        var seeds = ["Europe/Berlin", "America/Sao_Paulo", "Australia/Lord_Howe", "UTC"].compactMap {
            FileManager.default.contents(atPath: "/usr/share/zoneinfo/" + $0).map { Array($0) }
        }
        seeds += ["CET-1CEST,M3.5.0,M10.5.0/3", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "EST5EDT,J60/2,300/25"]
            .map { Array($0.utf8) }
        let instants: [Int64] = [-4_000_000_000, -1, 0, 1_774_746_000, 4_102_444_800, 9_000_000_000]
        let check: ([UInt8]) -> Bool = { bytes in
            let rules = TimeZoneRules.tzif(bytes, name: "fuzz")
                ?? TimeZoneRules.posix(String(decoding: bytes.prefix(200), as: UTF8.self))
            guard let rules else { return false }
            for instant in instants {
                let offset = rules.offset(at: instant)
                if abs(offset) > 7 * 86_400 { Issue.record("offset \(offset) from \(bytes.prefix(60))") }
                _ = LocalTime(unixNanos: instant * 1_000_000_000, zone: rules)
            }
            return true
        }
        for seed in seeds { #expect(check(seed)) }
        var fuzzer = MutationFuzzer(target: "zones", byteSeeds: seeds, byteTokens: [
            "TZif", "TZif2", "\u{0}\u{0}\u{0}\u{7F}", ",M13.5.0", "/-167", "/167", "J0", "<", ">", "\n", "-24",
            "+25:61",
        ].map { Array($0.utf8) })
        _ = fuzzer.run(executions: Self.executions, check)
    }

    @Test("routing tables: a default route's interface, or none; never a trap")
    func routes() throws {
        let ipv4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
            + "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
            + "wwan0\t00000000\t0101A8C0\t0003\t0\t0\t700\t00000000\t0\t0\t0\n"
        let ipv6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
            + "fe800000000000000000000000000001 00000400 00000002 00000000 00000003    wwan0\n"
        var fuzzer = MutationFuzzer(target: "routes", seeds: [ipv4, ipv6], tokens: [
            "\t", " ", "\n", "00000000", "FFFFFFFF", "-1", "99999999999999999999", "lo", "0200",
        ])
        _ = fuzzer.run(executions: Self.executions) { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            return DefaultRoute.interface(ipv4: text, ipv6: text) != nil
        }
    }
}
