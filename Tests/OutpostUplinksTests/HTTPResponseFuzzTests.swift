import Foundation
import OutpostTestSupport
import OutpostCore
import Testing
@testable import OutpostDelivery
@testable import OutpostUplinks

/// A seeded mutation fuzzer for what a receiver (or anything on the path) can send back: the status line, header
/// fields, `Retry-After` in every form, the `Date` it is read against, and what the delivery loop's backoff makes
/// of the result.
///
/// The seeds are `Fixtures/http-responses/*.http` (raw response heads); `crash-*` files are inputs that once
/// crashed Outpost and stay as regression inputs. Each run mutates them deterministically from a seed, so a failure
/// is reproduced by running again with the same seed:
///
/// - CI runs a bounded number of executions (`OUTPOST_FUZZ_EXECUTIONS`, default 20,000; about a second).
/// - A long run: `OUTPOST_FUZZ_SECONDS=600 OUTPOST_FUZZ_SEED=$RANDOM`, as an unprivileged user.
/// - To keep a crasher: run again with the same seed and `OUTPOST_FUZZ_LAST=/tmp/last.http` (each input is written
///   there before it runs), then copy that file into the fixtures as `crash-<what>.http`.
@Suite("HTTP response fuzzing (seeded mutations)")
struct HTTPResponseFuzzTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/http-responses")

    static func seeds() throws -> [(name: String, bytes: [UInt8])] {
        let names = try FileManager.default.contentsOfDirectory(atPath: fixtures.path).filter { $0.hasSuffix(".http") }
        return try names.sorted().map { ($0, Array(try Data(contentsOf: fixtures.appendingPathComponent($0)))) }
    }

    @Test("every seed and kept crasher is handled within bounds")
    func seedsAndCrashers() throws {
        let seeds = try Self.seeds()
        #expect(seeds.count >= 10)
        #expect(seeds.contains { $0.name.hasPrefix("crash-") })
        var checker = ResponseChecker()
        for seed in seeds {
            checker.check(seed.bytes, context: seed.name)
        }
    }

    @Test("mutated responses never trap, and every wait stays between the floor and the caps")
    func mutations() throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = environment["OUTPOST_FUZZ_SECONDS"].flatMap(Double.init)
        let executions = environment["OUTPOST_FUZZ_EXECUTIONS"].flatMap(Int.init) ?? 20_000
        let seed = environment["OUTPOST_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5EED
        let last = environment["OUTPOST_FUZZ_LAST"]
        let corpus = try Self.seeds().map(\.bytes)
        var random = SplitMix64(seed: seed)
        var checker = ResponseChecker()
        let start = ContinuousClock.now
        var done = 0
        while seconds.map({ ContinuousClock.now - start < .seconds($0) }) ?? (done < executions) {
            let input = Mutator.mutate(corpus[Int(random.next() % UInt64(corpus.count))], corpus: corpus,
                                       random: &random)
            if let last { _ = FileManager.default.createFile(atPath: last, contents: Data(input)) }
            checker.check(input, context: "seed \(seed), execution \(done)")
            done += 1
        }
        print("HTTP response fuzzing: \(done) executions from seed \(seed) in \(ContinuousClock.now - start), "
            + "\(checker.retries) retryable, \(checker.hints) with a usable Retry-After")
        #expect(done > 0)
    }
}

/// Feeds one raw response head through everything that reads it, and checks what comes out.
struct ResponseChecker {
    let uplink = OTLPHTTPUplink(configuration: OTLPHTTPUplinkConfiguration(
        metricsURL: "http://127.0.0.1:9/v1/metrics", logsURL: "http://127.0.0.1:9/v1/logs", encoding: .protobuf)
    ) { _ in }
    let policy = BackoffPolicy()
    var retries = 0
    var hints = 0

    /// Seconds of 0001-01-01 and 9999-12-31T23:59:60 since 1970: every date read lies between.
    static let dateRange: ClosedRange<Int64> = -62_135_596_800...253_402_300_800

    mutating func check(_ bytes: [UInt8], context: String) {
        var head = HTTPResponseHead()
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            head.consume(line: line)
        }
        #expect(head.fields.count <= HTTPResponseHead.maximumFields, "\(context)")
        for field in head.fields {
            if let seconds = HTTPDate.unixSeconds(field.value) {
                #expect(Self.dateRange.contains(seconds), "\(context): \(field.value)")
            }
            if case .delay(let delay) = RetryAfter.parse(field.value, serverDate: head.field("date")) {
                #expect(delay >= .zero, "\(context): \(field.value)")
            }
        }
        let status = head.status ?? 503
        let result = uplink.classify(.response(status: status, headers: head.fields.map { ($0.name, $0.value) },
                                               body: Array(bytes.suffix(64))), signal: .metrics)
        check(result, status: status, context: context)
    }

    private mutating func check(_ result: DeliveryResult, status: Int, context: String) {
        switch result {
        case .delivered:
            #expect((200..<300).contains(status), "\(context)")
        case .partiallyDelivered:
            Issue.record("classify never drops items: \(context)")
        case .rejected:
            #expect(![429, 502, 503, 504].contains(status) && !(200..<400).contains(status), "\(context)")
        case .retry(let after, let reason):
            // OTLP/HTTP: 429, 502, 503 and 504 are retryable answers; a redirect or a 2xx that is not an OTLP
            // response (a captive portal) never reached the receiver.
            #expect([429, 502, 503, 504].contains(status) || (200..<400).contains(status), "\(context): \(reason)")
            retries += 1
            if after != nil { hints += 1 }
            var state = UplinkConnectionState(policy: policy)
            let now = Int64(retries % 7) * 1_000_000_000
            let failures = 1 + retries % 40
            for _ in 1..<failures { _ = state.failed(reason: reason, retryAfter: nil, now: now, random: 0.5) }
            let next = state.failed(reason: reason, retryAfter: after, now: now, random: Double(retries % 11) / 10)
            let wait = Duration.nanoseconds(next.nextAttempt - now)
            #expect(wait >= policy.initial, "\(context): \(wait) is below the floor")
            #expect(wait <= max(policy.maximum, policy.maximumRetryAfter), "\(context): \(wait) is beyond the caps")
        }
    }
}

/// Byte-level and token-level mutations, in the spirit of libFuzzer's: flip, insert, erase, repeat, splice, and
/// drop in tokens that HTTP dates and numbers are made of.
enum Mutator {
    static let tokens: [String] = [
        "9999", "0000", "99999999999", "-99999999999999", "18446744073709551616", "9223372036854775807", "-1", "0",
        "GMT", "UTC", "Jan", "Feb", "Dec", "Sun, ", "Sunday, ", "-94", "23:59:60", "99:99:99", "::", ":", ",", " ",
        "\t", "\r\n", "\n", "Retry-After: ", "Date: ", "HTTP/1.1 503 ", "HTTP/1.1 429 ", "HTTP/1.1 200 ", "HTTP/",
        "1e309", "nan", "\u{0}", "\u{FEFF}", "é", "31 Dec ", "06-Nov-", "Sat Jan  1 00:00:00 ",
    ]

    static func mutate(_ seed: [UInt8], corpus: [[UInt8]], random: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        for _ in 0...(random.next() % 4) {
            let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count + 1))
            switch random.next() % 7 {
            case 0 where !bytes.isEmpty:
                bytes[min(position, bytes.count - 1)] ^= UInt8(truncatingIfNeeded: 1 << (random.next() % 8))
            case 1:
                bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
            case 2 where !bytes.isEmpty:
                let end = min(bytes.count, position + 1 + Int(random.next() % 16))
                bytes.removeSubrange(min(position, bytes.count - 1)..<end)
            case 3:
                bytes.insert(contentsOf: Array(tokens[Int(random.next() % UInt64(tokens.count))].utf8), at: position)
            case 4 where !bytes.isEmpty:
                let start = min(position, bytes.count - 1)
                let piece = bytes[start..<min(bytes.count, start + 1 + Int(random.next() % 32))]
                bytes.insert(contentsOf: Array(piece), at: start)
            case 5:
                let other = corpus[Int(random.next() % UInt64(corpus.count))]
                let cut = other.isEmpty ? 0 : Int(random.next() % UInt64(other.count))
                bytes = Array(bytes.prefix(position)) + other[cut...]
            default:
                // A run of digits: numbers that overflow 32 and 64 bits.
                let digits = (0..<(1 + random.next() % 40)).map { _ in UInt8(48 + random.next() % 10) }
                bytes.insert(contentsOf: digits, at: position)
            }
        }
        return Array(bytes.prefix(16_384))
    }
}

