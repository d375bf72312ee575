#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import OutpostCore

/// The system's real-time clock, in unix nanoseconds.
package struct SystemWallClock: WallClock {
    package init() {}

    package func nowNanos() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * UnixNanos.perSecond + Int64(spec.tv_nsec)
    }
}
