import Foundation
import OutpostCore
import Synchronization

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64), so a fuzz run can be replayed.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Writes `count` bytes of seeded noise at `offset`: a bad sector, reproducibly.
public func garble(_ path: String, at offset: Int, count: Int, seed: UInt64 = 1) throws {
    var state = seed
    let noise = (0..<count).map { _ -> UInt8 in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.seek(toOffset: UInt64(offset))
    handle.write(Data(noise))
    try handle.close()
}

/// A wall clock and a monotonic clock the test sets by hand: both advance together, and the wall clock can be
/// stepped alone (a Pi booting in 1970, then NTP).
public final class HandSetClocks: WallClock, MonotonicTime {
    private let state = Mutex<(wall: Int64, mono: Int64)>((100 * 1_000_000_000, 1))

    public init() {}

    public func nowNanos() -> Int64 { state.withLock { $0.wall } }
    public func nanos() -> Int64 { state.withLock { $0.mono } }

    public func advance(seconds: Int64) {
        state.withLock {
            $0.wall += seconds * 1_000_000_000
            $0.mono += seconds * 1_000_000_000
        }
    }

    public func setWall(_ seconds: Int64) { state.withLock { $0.wall = seconds * 1_000_000_000 } }
}
