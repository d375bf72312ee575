#if canImport(Glibc)
import Glibc
#endif
import OutpostCore
import OutpostInputs
import OutpostWire

/// One series of the benchmark gateway and how its value moves.
private struct GatewaySeries {
    enum Kind { case probe(base: Double), humidity, energy, power, voltage, frequency, host }
    let series: Series
    let kind: Kind
}

private func gatewaySeries() -> [GatewaySeries] {
    var all: [GatewaySeries] = []
    for index in 0..<28 {
        let attributes: Attributes = ["sensor.id": .string("28-0\(100 + index)"),
                                      "location": .string("bed-\(index / 2)")]
        let name = "greenhouse.\(index % 2 == 1 ? "soil" : "air").temperature"
        all.append(GatewaySeries(series: Series(name: name, unit: "Cel", attributes: attributes),
                                 kind: .probe(base: Double(14 + index % 7))))
    }
    for index in 0..<18 {
        let attributes: Attributes = ["sensor.id": .string("sht-\(index)"), "location": .string("bed-\(index)")]
        all.append(GatewaySeries(series: Series(name: "greenhouse.air.humidity", unit: "%", attributes: attributes),
                                 kind: .humidity))
    }
    let meter: Attributes = ["sensor.id": .string("em-1"), "location": .string("barn")]
    let meterSeries: [(String, String, GatewaySeries.Kind)] = [("meter.energy", "kW.h", .energy),
                                                               ("meter.power", "W", .power),
                                                               ("meter.voltage", "V", .voltage),
                                                               ("meter.frequency", "Hz", .frequency)]
    for (name, unit, kind) in meterSeries {
        all.append(GatewaySeries(series: Series(name: name, unit: unit, attributes: meter), kind: kind))
    }
    let host: Attributes = ["device": .string("pi4-greenhouse")]
    for name in ["system.cpu.utilization", "system.cpu.load_average.1m", "system.cpu.load_average.5m",
                 "system.cpu.load_average.15m", "system.memory.usage", "system.memory.utilization",
                 "system.linux.memory.available", "system.filesystem.usage", "system.filesystem.utilization",
                 "hw.temperature", "outpost.wifi.signal", "system.uptime", "system.network.io"] {
        all.append(GatewaySeries(series: Series(name: name, unit: "1", attributes: host), kind: .host))
    }
    return all
}

private func value(_ kind: GatewaySeries.Kind, minute: Int, energy: inout Double,
                   random: inout SeededGenerator) -> Double {
    let phase = 2 * Double.pi * (Double(minute % 1440) / 1440 - 0.3)
    let noise = random.nextGaussian()
    switch kind {
    case .probe(let base):
        let celsius = base + 5 * sin(phase) + noise * 0.05
        return (celsius / 0.0625).rounded() * 0.0625
    case .humidity:
        return (70 - 15 * sin(phase) + noise).rounded()
    case .energy:
        energy += 0.02 + abs(noise) * 0.003
        return (energy * 100).rounded() / 100
    case .power:
        return (1200 + 900 * sin(phase) + noise * 40).rounded()
    case .voltage:
        return ((230 + noise * 0.3) * 10).rounded() / 10
    case .frequency:
        return ((50 + noise * 0.015) * 100).rounded() / 100
    case .host:
        return (abs(noise) * 1000).rounded() / 1000 + Double(minute)
    }
}

/// The gateway of Benchmarks/metered at one sample a minute (28 DS18B20 probes in 0.0625 °C steps, 18 humidity
/// sensors in whole %, an energy meter's 4 values, 13 host series), as OTLP protobuf requests of `span` seconds each:
/// the batches zstd and gzip are compared on.
func gatewayRequests(span seconds: Int, hours: Int = 24) throws -> [[UInt8]] {
    var random = SeededGenerator(seed: 21)
    var energy = 12_345.0
    let series = gatewaySeries()
    let start: Int64 = 1_767_225_600_000_000_000
    let encoder = OTLPEncoder(resource: resource)
    var requests: [[UInt8]] = []
    let perRequest = max(1, seconds / 60)
    var pending: [Sample] = []
    for minute in 0..<(hours * 60) {
        let time = start + Int64(minute) * 60_000_000_000
        for entry in series {
            let reading = value(entry.kind, minute: minute, energy: &energy, random: &random)
            pending.append(Sample(series: entry.series, time: time, value: reading))
        }
        if (minute + 1) % perRequest == 0 {
            let request = encoder.metricsRequest(pending, batchID: BatchBuilder.newBatchID(),
                                                 counterStart: { _ in start })
            requests.append(try OTLPEncoder.serialize(request, as: .protobuf))
            pending = []
        }
    }
    return requests
}

/// One codec at one level, as `outpost-benchmarks compression` names it.
struct Codec: CustomStringConvertible {
    let compression: PayloadCompression

    init?(_ name: String, level: Int32) {
        switch name {
        case "gzip": compression = .gzip(level: level)
        case "zstd": compression = .zstd(level: level)
        case "none": compression = .none
        default: return nil
        }
    }

    var description: String {
        switch compression {
        case .none: "none"
        case .gzip(let level): "gzip \(level)"
        case .zstd(let level): "zstd \(level)"
        }
    }
}

private func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

private func maxResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
}

/// `outpost-benchmarks compression CODEC LEVEL SPAN ROUNDS`: compresses (and decompresses) a day of the gateway's
/// batches of SPAN seconds ROUNDS times with one codec and prints one line: bytes per sample, CPU µs per batch to
/// compress and to decompress, and the process's peak RSS before and after. Run once per codec, side by side, so
/// each process's RSS holds that codec's state only; under qemu with the instruction-counting plugin, the counts
/// minus those of `none` are the codec's own (Benchmarks/metered/compression).
func compressionMode(_ arguments: [String]) throws {
    guard arguments.count >= 4, let level = Int32(arguments[1]), let codec = Codec(arguments[0], level: level),
        let span = Int(arguments[2]), let rounds = Int(arguments[3])
    else {
        print("usage: outpost-benchmarks compression gzip|zstd|none LEVEL SPAN_SECONDS ROUNDS")
        exit(2)
    }
    let requests = try gatewayRequests(span: span)
    let samples = 63 * 1440
    let rssBefore = maxResidentBytes()
    var compressed: [[UInt8]] = []
    let compressStart = cpuSeconds()
    for _ in 0..<rounds { compressed = try requests.map { try codec.compression.compress($0) } }
    let compressCPU = cpuSeconds() - compressStart
    let decompressStart = cpuSeconds()
    for _ in 0..<rounds {
        for batch in compressed {
            _ = try PayloadCompression.decompress(batch, from: codec.compression.contentEncoding)
        }
    }
    let decompressCPU = cpuSeconds() - decompressStart
    let bytes = compressed.reduce(0) { $0 + $1.count }
    let raw = requests.reduce(0) { $0 + $1.count }
    let perBatch = { (seconds: Double) in seconds / Double(rounds * requests.count) * 1e6 }
    print("\(codec)\tspan \(span) s\t\(requests.count) batches\traw \(raw) B\tcompressed \(bytes) B\t"
        + "\(Double(bytes) / Double(samples)) B/sample\tcompress \(perBatch(compressCPU)) µs/batch\t"
        + "decompress \(perBatch(decompressCPU)) µs/batch\tpeak RSS \(rssBefore) → \(maxResidentBytes()) B")
}
