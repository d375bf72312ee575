import Foundation

public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Hex-encoded compressed (gzip, zstd) OTLP protobuf batches (`mosquitto_sub -F %x`), decoded by the official schema
/// (Tests/OutpostWireTests/otlp_decode.py), as JSON objects with proto field names.
public func decodeOTLP(hexBatches: [String], signal: String = "metrics", compression: String = "gzip") throws
    -> [[String: Any]]
{
    let python = Process()
    python.executableURL = repositoryRoot.appendingPathComponent(".build/otlp-python/bin/python")
    python.arguments = [repositoryRoot.appendingPathComponent("Tests/OutpostWireTests/otlp_decode.py").path,
                        signal, "protobuf", compression, "-"]
    let input = Pipe(), output = Pipe()
    python.standardInput = input
    python.standardOutput = output
    try python.run()
    input.fileHandleForWriting.write(Data(hexBatches.joined(separator: "\n").utf8))
    try input.fileHandleForWriting.close()
    let decoded = output.fileHandleForReading.readDataToEndOfFile()
    python.waitUntilExit()
    return try JSONSerialization.jsonObject(with: decoded) as? [[String: Any]] ?? []
}

/// The `time_unix_nano` of every data point of `metric` in decoded metrics requests, duplicates included.
public func pointTimestamps(_ requests: [[String: Any]], metric name: String) -> [String] {
    var result: [String] = []
    for request in requests {
        for resource in request["resource_metrics"] as? [[String: Any]] ?? [] {
            for scope in resource["scope_metrics"] as? [[String: Any]] ?? [] {
                for metric in scope["metrics"] as? [[String: Any]] ?? [] where metric["name"] as? String == name {
                    let points = (metric["gauge"] as? [String: Any])?["data_points"] as? [[String: Any]] ?? []
                    result += points.compactMap { $0["time_unix_nano"] as? String }
                }
            }
        }
    }
    return result
}

/// Decodes a growing list of hex batches (a subscription's messages) once each, so a poll loop that asks again
/// and again starts Python only when something new has arrived.
public final class IncrementalOTLPDecoder {
    private var decoded: [[String: Any]] = []

    public init() {}

    /// Every batch so far, decoded; `hexBatches` must only ever grow at its end.
    public func decode(_ hexBatches: [String]) throws -> [[String: Any]] {
        if hexBatches.count > decoded.count {
            decoded += try decodeOTLP(hexBatches: Array(hexBatches[decoded.count...]))
        }
        return decoded
    }
}
