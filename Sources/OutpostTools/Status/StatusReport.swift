import OutpostCore
import OutpostInputs

#if canImport(Glibc)
import Glibc
#endif

/// What `outpost status` prints: the status file, for humans or as it is.
package enum StatusReport {
    package static func read(path: String) throws -> String {
        do {
            return try SystemFiles.read(path)
        } catch {
            throw ToolError(message: "\(error). Is Outpost running with this config? (the status file is rewritten "
                + "every [status] interval while it runs)")
        }
    }

    /// A readable summary of the status JSON.
    package static func render(_ text: String, now: Int64) throws -> String {
        let status = try JSONValue.parse(text)
        func string(_ path: String) -> String {
            if case .string(let value)? = status.value(atPath: path) { return value }
            return status.value(atPath: path)?.numericValue.map { formatNumber($0) } ?? "-"
        }
        var lines: [String] = []
        let updated = status.value(atPath: "updated_unix_nano")?.numericValue.map { Int64($0) } ?? 0
        let age = Int(UnixNanos.seconds(now - updated))
        let running = string("state") == "running" && isAlive(pid: Int32(status.value(atPath: "pid")?.numericValue ?? 0))
        lines.append("outpost \(string("version")) on \(string("gateway")): \(running ? "running" : "not running") "
            + "(status written \(age)s ago, pid \(string("pid")), config \(string("config")))")
        lines.append("samples ingested \(string("samples_ingested")), events \(string("events")), "
            + "alerts \(string("alerts")), anomaly episodes over the per-series budget "
            + string("anomalies_suppressed"))
        lines.append("inputs:")
        if case .array(let inputs)? = status.value(atPath: "inputs") {
            for input in inputs {
                let name = input.value(atPath: "name").flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "?"
                let kind = input.value(atPath: "kind").flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "?"
                let samples = formatNumber(input.value(atPath: "samples")?.numericValue ?? 0)
                let problems = formatNumber(input.value(atPath: "problems")?.numericValue ?? 0)
                let last = input.value(atPath: "last_sample").flatMap { if case .string(let s) = $0 { s } else { nil } }
                lines.append("  [\(kind)] \(name): \(samples) samples, \(problems) problems, last \(last ?? "never")")
            }
        }
        lines.append("spool \(string("spool.path")): \(string("spool.size_bytes")) of \(string("spool.max_bytes")) "
            + "bytes, \(string("spool.write_errors")) write errors, \(string("spool.batches_waiting_in_memory")) "
            + "batches waiting in memory")
        for lane in Lane.allCases {
            let prefix = "spool.lanes.\(lane)."
            let oldest = string(prefix + "oldest_age_s")
            lines.append("  \(lane): \(string(prefix + "batches")) batches, \(string(prefix + "items")) items, "
                + "\(string(prefix + "bytes")) bytes, oldest \(oldest == "-" ? "-" : oldest + "s"), "
                + "dropped \(string(prefix + "dropped_batches")) batches")
        }
        if string("spool.last_error") != "-" { lines.append("  last error: \(string("spool.last_error"))") }
        if case .array(let uplinks)? = status.value(atPath: "uplinks"), !uplinks.isEmpty {
            lines.append("uplinks:")
            for uplink in uplinks {
                func field(_ key: String) -> String {
                    if case .string(let value)? = uplink.value(atPath: key) { return value }
                    return uplink.value(atPath: key)?.numericValue.map { formatNumber($0) } ?? "-"
                }
                lines.append("  [\(field("kind"))] \(field("name")) → \(field("endpoint")): \(field("state")), "
                    + "delivered \(field("delivered_batches")) batches, \(field("retries")) retries, "
                    + "\(field("rejected_batches")) rejected, last delivery \(field("last_delivery"))"
                    + (field("last_error") == "-" ? "" : ", last error: \(field("last_error"))"))
                lines += allowanceLines(uplink)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// What an uplink spent, whether its sync window is open, and what waits for it (and why).
    private static func allowanceLines(_ uplink: JSONValue) -> [String] {
        func text(_ path: String) -> String? {
            if case .string(let value)? = uplink.value(atPath: path) { return value }
            return nil
        }
        func number(_ path: String) -> Double? { uplink.value(atPath: path)?.numericValue }
        var lines: [String] = []
        if case .bool(let metered)? = uplink.value(atPath: "metered") {
            var parts = ["\(metered ? "metered" : "not metered"), \(bytes(number("wire_bytes") ?? 0)) on the wire"]
            for period in ["daily", "monthly"] {
                let spent = number("budgets.\(period).spent_bytes") ?? 0
                guard let limit = number("budgets.\(period).limit_bytes") else { continue }
                let renews = text("budgets.\(period).renews") ?? "-"
                var part = "\(period) budget \(bytes(spent)) of \(bytes(limit)) spent (renews \(renews))"
                if let overrun = number("budgets.\(period).overrun_bytes"), overrun > 0 {
                    part += ", \(bytes(overrun)) beyond it (alerts)"
                }
                parts.append(part)
            }
            lines.append("      " + parts.joined(separator: "; "))
        }
        if let windows = text("sync_windows.windows") {
            let open = uplink.value(atPath: "sync_windows.open") == .bool(true)
            let next = text("sync_windows.next_change") ?? "-"
            lines.append("      sync windows \(windows) (\(text("time_zone") ?? "local time")): "
                + (open ? "open, closes \(next)" : "closed, opens \(next)"))
        }
        for lane in Lane.allCases {
            let batches = number("waiting.\(lane).batches") ?? 0
            guard batches > 0 || text("waiting.\(lane).held") != nil else { continue }
            let amount = "\(formatNumber(batches)) batches (\(bytes(number("waiting.\(lane).bytes") ?? 0)))"
            let why = text("waiting.\(lane).held").map { ", held: \($0)" } ?? ""
            lines.append("      waiting \(lane): \(amount)\(why)")
        }
        return lines
    }

    /// `1.2 MB`, `340 kB`, `512 B` (decimal units, as data plans count).
    static func bytes(_ value: Double) -> String {
        switch value {
        case 1e9...: twoDecimals(value / 1e9) + " GB"
        case 1e6...: twoDecimals(value / 1e6) + " MB"
        case 1e3...: twoDecimals(value / 1e3) + " kB"
        default: formatNumber(value) + " B"
        }
    }

    private static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int64((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }

    package static func isAlive(pid: Int32) -> Bool {
        pid > 0 && kill(pid, 0) == 0
    }

    private static func formatNumber(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String((value * 10).rounded() / 10)
    }
}
