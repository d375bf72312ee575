import Foundation
import OutpostCore
import Testing
@testable import OutpostSpool

/// A real full disk: a 1 MiB tmpfs (the tests run as root, as CI does), unmounted at the end.
private func withTinyDisk(_ body: (String) throws -> Void) throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", folder])
    defer {
        try? run("/bin/umount", [folder])
        try? FileManager.default.removeItem(atPath: folder)
    }
    try body(folder)
}

private func run(_ tool: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "\(tool) \(arguments)")
}

/// Batches whose payload does not compress, so each fills its pages.
private func noisyBatch(_ index: Int) -> Batch {
    var state = UInt64(index + 1)
    let payload = (0..<20_000).map { _ -> UInt8 in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
    return Batch(id: "b\(index)", lane: .metrics, signal: .metrics, format: .otlpProtobuf,
                 contentEncoding: .gzip, created: Int64(index), items: 10, uncompressedBytes: 60_000,
                 payload: payload)
}

@Suite("Room for deletes on a full disk")
struct SpoolReserveTests {
    @Test("a full disk still lets delivered batches leave the spool, so it drains and takes new ones again")
    func fullDiskDrains() throws {
        try withTinyDisk { folder in
            let spool = try SQLiteSpool(path: folder + "/spool.db", maxBytes: 64 << 20, destinations: otlp("sink"))
            #expect(spool.reserve.isHeld)
            var stored = 0
            do {
                while stored < 100 {
                    try spool.enqueue(noisyBatch(stored))
                    stored += 1
                }
            } catch {
                #expect((error as? SQLiteError)?.isDiskFull == true, "\(error)")
            }
            #expect(stored > 5 && stored < 100, "the disk filled after \(stored) batches")
            var drained = 0
            while let next = try spool.next(for: "sink", now: 0) {
                do { try spool.delivered(next.sequence, by: "sink") } catch {
                    Issue.record("settle \(drained) of \(stored): \(error); reserve held: \(spool.reserve.isHeld)")
                    throw error
                }
                drained += 1
            }
            #expect(drained == stored)
            try spool.enqueue(noisyBatch(1000))
            #expect(spool.reserve.isHeld, "the reserve is taken back before new batches")
            #expect(try spool.next(for: "sink", now: 0)?.batch.id == "b1000")
            spool.close()
        }
    }

    @Test("the reserve is a file beside the spool that new batches never use")
    func reserveFile() throws {
        let path = try temporarySpoolPath()
        let spool = try SQLiteSpool(path: path, maxBytes: 64 << 20, destinations: otlp("sink"))
        let attributes = try FileManager.default.attributesOfItem(atPath: path + ".reserve")
        #expect((attributes[.size] as? Int) == SpoolReserve.defaultSize)
        #expect(spool.reserve.release())
        #expect(!spool.reserve.isHeld)
        try spool.enqueue(batch(.metrics))
        #expect(spool.reserve.isHeld)
        spool.close()
    }
}
