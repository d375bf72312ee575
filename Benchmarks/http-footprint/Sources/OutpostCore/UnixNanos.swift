// The one helper of Sample.swift that MonotonicClock and the server use, without the rest of the model.
package enum UnixNanos {
    package static func from(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
