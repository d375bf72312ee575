/// Rate-limits reports about dropped batches (refused by an uplink, or dropped by the spool itself, `uplink` empty):
/// one report per uplink and lane when the first drop comes, then
/// the refusals of each following window (`windowSteps` retry-loop steps, 1 min) summed into one report, until a
/// window passes without any. Counted in steps of the spool's monotonic retry loop, so a wall-clock jump does not
/// shorten or stretch a window.
package struct DropReports: Sendable {
    package static let windowSteps = 12

    package struct Summary: Sendable, Equatable {
        package var uplink: String
        package var lane: Lane
        package var batches = 0
        package var items = 0
        package var bytes = 0
        package var reason = ""
        package var seconds = 0
    }

    private struct Window: Sendable {
        var stepsLeft = DropReports.windowSteps
        var stepsTaken = 0
        var summary: Summary
    }

    private var windows: [String: Window] = [:]

    package init() {}

    /// Records a drop; true when it opens a window (report it now), false when it is counted for the summary.
    package mutating func admit(uplink: String, lane: Lane, batches: Int, items: Int, bytes: Int, reason: String) -> Bool {
        let key = "\(uplink)\u{0}\(lane.rawValue)"
        guard var window = windows[key] else {
            windows[key] = Window(summary: Summary(uplink: uplink, lane: lane))
            return true
        }
        window.summary.batches += batches
        window.summary.items += items
        window.summary.bytes += bytes
        window.summary.reason = reason
        windows[key] = window
        return false
    }

    /// One step of the retry loop: the summaries of windows that ended with refusals in them. A window that ends
    /// empty closes, so the next refusal is reported at once again.
    package mutating func step(seconds perStep: Int = 5) -> [Summary] {
        var due: [Summary] = []
        for (key, var window) in windows {
            window.stepsLeft -= 1
            window.stepsTaken += 1
            guard window.stepsLeft <= 0 else {
                windows[key] = window
                continue
            }
            if window.summary.batches > 0 || window.summary.items > 0 {
                var summary = window.summary
                summary.seconds = window.stepsTaken * perStep
                due.append(summary)
                windows[key] = Window(summary: Summary(uplink: summary.uplink, lane: summary.lane))
            } else {
                windows[key] = nil
            }
        }
        return due.sorted { ($0.uplink, $0.lane.rawValue) < ($1.uplink, $1.lane.rawValue) }
    }

    /// At stop: every summary still counting.
    package mutating func drain(seconds perStep: Int = 5) -> [Summary] {
        defer { windows = [:] }
        return windows.values.filter { $0.summary.batches > 0 || $0.summary.items > 0 }.map { window in
            var summary = window.summary
            summary.seconds = window.stepsTaken * perStep
            return summary
        }
    }
}

extension DropReports {
    /// The `outpost.spool.dropped` event for a window's summary.
    package static func summaryEvent(_ summary: Summary, time: Int64) -> Event {
        // Items dropped out of delivered batches (too large for the receiver) count no batch.
        let what = summary.batches == 0 ? "\(summary.items) more item(s) of \(summary.lane) batches"
            : "\(summary.batches) more \(summary.lane) batch(es) (\(summary.items) items)"
        let message = summary.uplink.isEmpty
            ? "dropped \(what) in the last \(summary.seconds) s: \(summary.reason)"
            : "\(summary.uplink) rejected \(what) for good in the last \(summary.seconds) s: \(summary.reason)"
        return Event(name: .spoolDropped, severity: .warn, time: time, series: nil, message: message,
                     attributes: attributes(uplink: summary.uplink, lane: summary.lane, batches: summary.batches,
                                            items: summary.items, bytes: summary.bytes, reason: summary.reason))
    }

    /// The attributes of an `outpost.spool.dropped` event; `uplink` empty for the spool's own drops.
    package static func attributes(uplink: String, lane: Lane, batches: Int, items: Int, bytes: Int,
                                   reason: String) -> Attributes {
        var attributes: Attributes = [
            "outpost.spool.lane": .string(lane.description), "outpost.spool.dropped_batches": .int(Int64(batches)),
            "outpost.spool.dropped_items": .int(Int64(items)), "outpost.spool.dropped_bytes": .int(Int64(bytes)),
            "outpost.reason": .string(reason),
        ]
        if !uplink.isEmpty { attributes["outpost.uplink"] = .string(uplink) }
        return attributes
    }
}
