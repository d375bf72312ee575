import Foundation
import OutpostTestSupport

/// A seeded mutation fuzzer: bytes flipped, inserted, deleted, repeated (to build deep nesting and long lines)
/// and spliced with tokens that broke parsers before (`inf`, `[`, years past 2262, a BOM).
///
/// In the test suite each target runs a bounded number of executions (the CI budget). For a long run, set
/// `OUTPOST_FUZZ_SECONDS` (and optionally `OUTPOST_FUZZ_SEED`); before each execution the input is written to
/// `$OUTPOST_FUZZ_ARTIFACTS/<target>.current`, so a crash leaves its input behind to be kept as a regression.
struct MutationFuzzer {
    let target: String
    let seeds: [[UInt8]]
    let tokens: [[UInt8]]
    private var generator: SplitMix64
    private var corpus: [[UInt8]]

    init(target: String, seeds: [String], tokens: [String]) {
        self.init(target: target, byteSeeds: seeds.map { Array($0.utf8) }, byteTokens: tokens.map { Array($0.utf8) })
    }

    /// For binary inputs (protocol frames).
    init(target: String, byteSeeds: [[UInt8]], byteTokens: [[UInt8]]) {
        self.target = target
        self.seeds = byteSeeds
        self.tokens = byteTokens
        let environment = ProcessInfo.processInfo.environment
        generator = SplitMix64(seed: environment["OUTPOST_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5EED)
        corpus = self.seeds
    }

    /// Runs `body` on mutated inputs: `executions` of them, or for `OUTPOST_FUZZ_SECONDS` when set. Returns the
    /// number of executions.
    mutating func run(executions: Int, _ body: ([UInt8]) -> Bool) -> Int {
        let environment = ProcessInfo.processInfo.environment
        let seconds = environment["OUTPOST_FUZZ_SECONDS"].flatMap(Double.init)
        let artifact = seconds.map { _ in
            (environment["OUTPOST_FUZZ_ARTIFACTS"] ?? NSTemporaryDirectory()) + "/\(target).current"
        }
        let deadline = seconds.map { Date().addingTimeInterval($0) }
        var count = 0
        while deadline.map({ Date() < $0 }) ?? (count < executions) {
            let input = mutate(corpus[Int(generator.next() % UInt64(corpus.count))])
            if let artifact { _ = FileManager.default.createFile(atPath: artifact, contents: Data(input)) }
            // Inputs the target accepted are kept (a small, rolling corpus) to reach deeper states.
            if body(input), input.count < 64 * 1024 {
                if corpus.count < 256 { corpus.append(input) } else { corpus[Int(generator.next() % 256)] = input }
            }
            count += 1
        }
        if seconds != nil { print("fuzz \(target): \(count) executions") }
        return count
    }

    private mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0...Int(generator.next() % 4) {
            let position = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count + 1))
            switch generator.next() % 7 {
            case 0 where !bytes.isEmpty && position < bytes.count:
                bytes[position] ^= UInt8(truncatingIfNeeded: 1 << (generator.next() % 8))
            case 1:
                bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
            case 2 where !bytes.isEmpty && position < bytes.count:
                let end = min(bytes.count, position + 1 + Int(generator.next() % 16))
                bytes.removeSubrange(position..<end)
            case 3:
                bytes.insert(contentsOf: tokens[Int(generator.next() % UInt64(tokens.count))], at: position)
            case 4 where position < bytes.count:
                // A run repeated many times: deep nesting, long lines, huge numbers.
                let end = min(bytes.count, position + 1 + Int(generator.next() % 8))
                let times = [2, 10, 100, 5000][Int(generator.next() % 4)]
                let run = Array(bytes[position..<end])
                bytes.insert(contentsOf: Array(repeating: run, count: times).joined(), at: position)
            case 5:
                let other = seeds[Int(generator.next() % UInt64(seeds.count))]
                let cut = other.isEmpty ? 0 : Int(generator.next() % UInt64(other.count))
                bytes = Array(bytes[..<position]) + Array(other[cut...])
            default:
                if !bytes.isEmpty && position < bytes.count {
                    bytes[position] = "0123456789-+.:eE[]{}\",= \n".utf8.randomElement(using: &generator)!
                }
            }
        }
        return bytes.count > 1 << 20 ? Array(bytes.prefix(1 << 20)) : bytes
    }
}

