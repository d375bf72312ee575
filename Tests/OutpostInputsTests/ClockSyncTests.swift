import Foundation
import OutpostTestSupport
import OutpostCore
import Synchronization
import Testing
@testable import OutpostInputs

private let today: Int64 = 1_796_078_705

private func probe(timesync: String = "/nonexistent", kernel: Bool? = nil) -> ClockSyncProbe {
    var probe = ClockSyncProbe()
    probe.timesyncDirectory = timesync
    probe.kernelSynchronised = { kernel }
    return probe
}

@Suite("A wall clock that knows whether it is synchronised")
struct ClockSyncTests {
    @Test("booting in 1970: stamps are provisional until the clock is set, then resolve to the right wall time")
    func bootIn1970() {
        let clocks = HandSetClocks()
        let clock = SyncAwareWallClock(base: clocks, monotonic: clocks, probe: probe())
        let early = clock.nowNanos()
        #expect(early < 0, "a 1970 reading is never handed out as a time")
        #expect(clock.resolve(early) == nil)
        #expect(clock.doubt?.certain == true)
        clocks.advance(seconds: 20)
        let later = clock.nowNanos()
        clocks.setWall(today)       // NTP steps the clock
        clocks.advance(seconds: 5)
        let synced = clock.nowNanos()
        #expect(synced == (today + 5) * 1_000_000_000)
        #expect(clock.resolve(early) == (today - 20) * 1_000_000_000, "stamped 25 s before now, as it happened")
        #expect(clock.resolve(later) == today * 1_000_000_000)
        #expect(clock.resolve(synced) == synced)
    }

    @Test("systemd-timesyncd running but not synchronised yet: samples wait for its `synchronized` file")
    func timesyncd() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("timesync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let clocks = HandSetClocks()
        clocks.setWall(today)
        let clock = SyncAwareWallClock(base: clocks, monotonic: clocks, probe: probe(timesync: folder.path))
        #expect(clock.nowNanos() < 0)
        #expect(clock.doubt?.reason.contains("synchronized") == true)
        try Data().write(to: folder.appendingPathComponent("synchronized"))
        clocks.advance(seconds: 2)
        #expect(clock.nowNanos() == (today + 2) * 1_000_000_000)
    }

    @Test("an uncertain doubt holds samples at most maximumWait; a time before the build holds them until set")
    func boundedWait() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("timesync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let clocks = HandSetClocks()
        clocks.setWall(today)
        let clock = SyncAwareWallClock(base: clocks, monotonic: clocks, probe: probe(timesync: folder.path))
        #expect(clock.nowNanos() < 0)
        clocks.advance(seconds: SyncAwareWallClock.maximumWait / 1_000_000_000)
        #expect(clock.nowNanos() > 0, "an offline gateway gives up waiting for NTP")

        let stuck = HandSetClocks()
        let clock1970 = SyncAwareWallClock(base: stuck, monotonic: stuck, probe: probe())
        #expect(clock1970.nowNanos() < 0)
        stuck.advance(seconds: 24 * 3600)
        #expect(clock1970.nowNanos() < 0, "a 1970 time is never exported, however long it lasts")
    }

    @Test("the kernel's unsynchronised flag alone does not hold samples (it stays set without any NTP daemon)")
    func kernelFlagAlone() {
        let clocks = HandSetClocks()
        clocks.setWall(today)
        let clock = SyncAwareWallClock(base: clocks, monotonic: clocks, probe: probe(kernel: false))
        #expect(clock.nowNanos() == today * 1_000_000_000)
        #expect(clock.kernelSynchronised == false)
    }

    @Test("adjtimex answers on this machine without root")
    func adjtimexReads() {
        #expect(ClockSyncProbe.adjtimexSynchronised() != nil)
    }
}
