#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import OutpostCore
import Synchronization

/// Tells whether the wall clock has been set from a time source yet. A Raspberry Pi has no RTC: it boots at 1970 or
/// at fake-hwclock's last save, and NTP steps the clock later. Every source is injectable, so tests need no root.
package struct ClockSyncProbe: Sendable {
    /// A wall clock earlier than this cannot be right: this Outpost did not exist yet (2026-11-01T00:00:00Z).
    package static let notBeforeDefault: Int64 = 1_793_491_200 * UnixNanos.perSecond

    /// systemd-timesyncd's folder: when it exists timesyncd runs, and it creates `synchronized` in it on the first
    /// successful sync (systemd ≥ 239).
    package var timesyncDirectory = "/run/systemd/timesync"
    package var notBefore = ClockSyncProbe.notBeforeDefault
    /// The kernel's view (`adjtimex`): false while STA_UNSYNC is set. Logged, but not waited for on its own: with no
    /// NTP daemon at all (a container, a gateway set by GPS or by hand) it stays set forever.
    package var kernelSynchronised: @Sendable () -> Bool? = ClockSyncProbe.adjtimexSynchronised

    package init() {}

    /// Why the clock cannot be trusted at `now` (unix nanoseconds), or nil when it can.
    package func unsynchronised(now: Int64) -> ClockDoubt? {
        if now < notBefore {
            return ClockDoubt(reason: "the wall clock reads \(RFC3339.format(now)), before this Outpost was built",
                              certain: true)
        }
        if isDirectory(timesyncDirectory), access(timesyncDirectory + "/synchronized", F_OK) != 0 {
            return ClockDoubt(reason: "systemd-timesyncd has not synchronised the clock yet "
                                  + "(\(timesyncDirectory)/synchronized is missing)", certain: false)
        }
        return nil
    }

    private func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// `adjtimex` in read-only mode (`modes` = 0 in a zeroed `struct timex`): TIME_ERROR (5) means the kernel clock
    /// is not synchronised. Looked up with `dlsym` because Swift's Glibc module leaves out `<sys/timex.h>`.
    @Sendable package static func adjtimexSynchronised() -> Bool? {
        typealias AdjustTime = @convention(c) (UnsafeMutableRawPointer) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "adjtimex") else { return nil }
        let adjust = unsafeBitCast(symbol, to: AdjustTime.self)
        // struct timex is 208 bytes on 64-bit Linux; 512 leaves room on any ABI.
        let request = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
        defer { request.deallocate() }
        request.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
        let state = adjust(request)
        return state < 0 ? nil : state != 5
    }
}

/// Why the wall clock is not trusted yet. `certain` doubts (a time before the build) hold samples until the clock
/// is set, however long that takes; the others at most `SyncAwareWallClock.maximumWait`.
package struct ClockDoubt: Sendable, Equatable {
    package let reason: String
    package let certain: Bool
}

/// The clock inputs stamp samples with. While the wall clock is not synchronised (see `ClockSyncProbe`) it hands
/// out provisional stamps taken on the monotonic clock (negative numbers, so they can never pass for a real time);
/// once the clock is synchronised, `resolve` turns each into the right wall time, measured from the moment of sync.
/// Checked at boot until the first sync; a later step of the clock is NTP doing its job and is not second-guessed.
package final class SyncAwareWallClock: ProvisionalWallClock, Sendable {
    /// How long a doubt that is not certain (timesyncd not synced yet) holds samples before the wall clock is used
    /// as it is: a gateway without any network must not hold its readings for ever.
    package static let maximumWait: Int64 = 10 * 60 * UnixNanos.perSecond
    /// How often the probe is asked again while the clock is doubted.
    static let probeInterval: Int64 = UnixNanos.perSecond

    /// The wall clock itself, for everything that is not a sample stamp.
    package let base: any WallClock
    private let monotonic: any MonotonicTime
    private let probe: ClockSyncProbe
    private let state: Mutex<State>

    private struct State {
        /// Wall time minus monotonic time at the moment the clock was trusted; nil while it is not.
        var offset: Int64?
        var doubt: ClockDoubt?
        var lastProbe: Int64?
        var firstDoubt: Int64?
    }

    package init(base: any WallClock = SystemWallClock(), monotonic: any MonotonicTime = MonotonicClock(ContinuousClock()),
                probe: ClockSyncProbe = ClockSyncProbe()) {
        self.base = base
        self.monotonic = monotonic
        self.probe = probe
        self.state = Mutex(State())
    }

    /// The wall time when it is trusted; otherwise a provisional stamp for `resolve` to fix later.
    package func nowNanos() -> Int64 {
        let mono = monotonic.nanos()
        if trusted(mono: mono) { return base.nowNanos() }
        return -mono
    }

    /// The wall time for `stamp`: itself when it is a real time, the fixed-up time for a provisional stamp once the
    /// clock is trusted, nil while it is not.
    package func resolve(_ stamp: Int64) -> Int64? {
        guard stamp < 0 else { return stamp }
        guard trusted(mono: monotonic.nanos()), let offset = state.withLock({ $0.offset }) else { return nil }
        return -stamp + offset
    }

    /// Whether stamps are real wall times now (the clock has been trusted once, and stays so).
    package var isTrusted: Bool { trusted(mono: monotonic.nanos()) }

    /// The kernel's own view (`adjtimex`), for the log: false while it reports the clock unsynchronised.
    package var kernelSynchronised: Bool? { probe.kernelSynchronised() }

    /// What keeps the clock from being trusted now, if anything (for the log).
    package var doubt: ClockDoubt? {
        _ = trusted(mono: monotonic.nanos())
        return state.withLock { $0.doubt }
    }

    private func trusted(mono: Int64) -> Bool {
        state.withLock { state in
            if state.offset != nil { return true }
            if let last = state.lastProbe, mono - last < Self.probeInterval { return false }
            state.lastProbe = mono
            let wall = base.nowNanos()
            let doubt = probe.unsynchronised(now: wall)
            let since = state.firstDoubt ?? mono
            let waitedEnough = doubt.map { !$0.certain && mono - since >= Self.maximumWait } ?? false
            guard doubt == nil || waitedEnough else {
                state.doubt = doubt
                state.firstDoubt = since
                return false
            }
            state.doubt = nil
            state.offset = wall - mono
            return true
        }
    }
}
